"""Modbus register profiles: the register map of a device model, as data.

A profile says where a device keeps each channel's temperature (and humidity), how to scale
the raw registers, which raw values mean "no sensor", and the sensor's physical range. The
shipped profiles live in `probes/register_maps/*.toml`; a configuration may add its own.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.core.ranges import check_ordered

DataType = Literal["int16", "uint16", "int32", "uint32", "float32"]
REGISTER_WIDTH: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
}


class FieldMap(BaseModel):
    """Where one quantity sits inside a channel's registers, and how to scale it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    offset: int = Field(ge=0, description="register offset from the channel's first register")
    datatype: DataType = "int16"
    scale: float = 1.0
    shift: float = 0.0

    @property
    def width(self) -> int:
        return REGISTER_WIDTH[self.datatype]


class RegisterProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    register_type: Literal["input", "holding"]
    channels: int = Field(ge=1, le=64)
    channel_stride: int = Field(ge=1)
    first_address: int = Field(ge=0, le=65535)
    physical_min: float
    physical_max: float
    disconnected: tuple[int, ...] = ()
    temperature: FieldMap
    humidity: FieldMap | None = None

    @model_validator(mode="after")
    def _fields_fit_in_channel(self) -> RegisterProfile:
        check_ordered(self, "physical_min", "physical_max", strict=True)
        for name, field in (("temperature", self.temperature), ("humidity", self.humidity)):
            if field is not None and field.offset + field.width > self.channel_stride:
                raise ValueError(
                    f"{name} (offset {field.offset}, {field.width} registers) does not fit in a "
                    f"channel of {self.channel_stride} registers: raise channel_stride"
                )
        return self

    @property
    def register_count(self) -> int:
        """Registers one request must read to cover every channel."""
        return self.channels * self.channel_stride

    def span(self, channels: set[int]) -> tuple[int, int]:
        """First address and count of the smallest block that covers these channels."""
        low, high = min(channels), max(channels)
        start = self.first_address + low * self.channel_stride
        return start, (high - low + 1) * self.channel_stride


@functools.cache
def builtin_profiles() -> Mapping[str, RegisterProfile]:
    """The register profiles shipped with the gateway, by name (read once: they are files of
    the installed package)."""
    profiles: dict[str, RegisterProfile] = {}
    for entry in resources.files("probes").joinpath("register_maps").iterdir():
        if entry.name.endswith(".toml"):
            profile = RegisterProfile.model_validate(tomllib.loads(entry.read_text("utf-8")))
            profiles[profile.name] = profile
    return MappingProxyType(profiles)
