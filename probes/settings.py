"""Configuration models of the probes: Modbus buses and probes, BLE probes, serial line probes
(the barcode scanners are in `probes.scanner_settings`).

The root `gateway.settings.Settings` composes them: `Probe` is the element of its `probes` list
(Modbus, BLE and serial probes, discriminated by `transport`), `Bus` of `buses`,
`BleSettings` its optional `ble` table. Rules spanning several entries are the
`check_*` functions, returning `Problem`s that the root's cross-check lists with the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from gateway.core import validation
from gateway.core.problems import Problem
from gateway.core.ranges import check_ordered
from gateway.core.validation import BLE_CHANNEL, MAC
from probes.ble_decode import BleFormat

CODE_PATTERN = r"^[A-Za-z0-9_-]+$"
_KEY_HEX_DIGITS: dict[BleFormat, tuple[int, ...]] = {
    BleFormat.BTHOME: (32,),
    BleFormat.XIAOMI: (24, 32),
}


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BleSettings(FrozenModel):
    """The Bluetooth adapter and how it scans."""

    adapter: Annotated[str, Field(pattern=r"^hci\d+$")] = "hci0"
    scanning_mode: Literal["auto", "passive", "active"] = "auto"
    adapter_silence_s: Annotated[
        float,
        Field(gt=0, description="no advertisement at all for this long: restart the scanner"),
    ] = 300.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 5.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 300.0

    @model_validator(mode="after")
    def _backoff_ordered(self) -> BleSettings:
        check_ordered(self, "backoff_initial_s", "backoff_max_s")
        return self


class BleProbe(FrozenModel):
    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    transport: Literal["ble"] = "ble"
    mac: Annotated[str, Field(pattern=MAC)]
    format: BleFormat
    bind_key: Annotated[str | None, Field(pattern=r"^[0-9A-Fa-f]+$")] = None
    channel: Annotated[
        str,
        Field(
            pattern=BLE_CHANNEL,
            max_length=32,
            description="which temperature of a device with several (a Govee base 'primary' "
            "or its 'remote', probe or object '2'...); empty for a device with one, as "
            "`coldchain discover ble` lists them",
        ),
    ] = ""
    compartment: str
    stale_multiple: Annotated[
        float, Field(ge=2, le=100, description="stale after this many learned intervals")
    ] = 6.0
    stale_min_s: Annotated[float, Field(gt=0)] = 60.0
    stale_initial_s: Annotated[
        float, Field(gt=0, description="stale limit until an interval has been learned")
    ] = 900.0
    resend_unchanged_s: Annotated[
        float,
        Field(
            gt=0,
            description="formats without a packet counter (Govee, Inkbird) repeat an unchanged "
            "value: record it again at most this often",
        ),
    ] = 60.0

    @field_validator("mac")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def interval_s(self) -> float:
        """Nominal seconds between recorded readings, before the real interval is learned."""
        return self.stale_initial_s / self.stale_multiple

    @property
    def via(self) -> str:
        """What the probe reports through: the Bluetooth adapter."""
        return "ble"

    @model_validator(mode="after")
    def _key_fits_format(self) -> BleProbe:
        if self.bind_key is None:
            return self
        lengths = _KEY_HEX_DIGITS.get(self.format)
        if lengths is None:
            raise ValueError(f"{self.format} advertisements are not encrypted: remove bind_key")
        if len(self.bind_key) not in lengths:
            raise ValueError(
                f"bind_key has {len(self.bind_key)} hex digits, a {self.format} key has "
                f"{' or '.join(map(str, lengths))}"
            )
        return self

    @property
    def key_bytes(self) -> bytes | None:
        return None if self.bind_key is None else bytes.fromhex(self.bind_key)


class LineField(FrozenModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", description="name probes refer to")]
    key: Annotated[str | None, Field(min_length=1, description="label in the line (T1)")] = None
    scale: float = 1.0
    offset: float = 0.0

    @property
    def label(self) -> str:
        return self.key or self.name


class SerialLineFormat(FrozenModel):
    """How a logger writes one line, e.g. `T1=+04.5,T2=-18.2*2C` (key_value, xor8)."""

    style: Literal["key_value", "positional"] = "key_value"
    separator: Annotated[str, Field(min_length=1)] = ","
    assign: Annotated[str, Field(min_length=1)] = "="
    prefix: str = ""
    fields: Annotated[list[LineField], Field(min_length=1)]
    missing: list[str] = ["----", "ERR", "OPEN"]
    checksum: Literal["none", "xor8", "sum8"] = "none"
    checksum_marker: Annotated[str, Field(min_length=1)] = "*"
    max_line: Annotated[int, Field(ge=8, le=65536)] = 256

    @model_validator(mode="after")
    def _unique(self) -> SerialLineFormat:
        for what, values in (
            ("name", [spec.name for spec in self.fields]),
            ("key", [spec.label for spec in self.fields]),
        ):
            repeated = [value for value, count in Counter(values).items() if count > 1]
            if repeated:
                raise ValueError(f"field {what} {repeated[0]!r} appears more than once")
        return self

    # The parser works on fields by label; keep one accessor so both agree.
    @property
    def keyed(self) -> list[tuple[str, LineField]]:
        return [(spec.label, spec) for spec in self.fields]


class SerialProbe(FrozenModel):
    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    transport: Literal["serial"] = "serial"
    port: Annotated[str, Field(min_length=1, description="e.g. /dev/ttyUSB0")]
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    format: SerialLineFormat
    field: str
    humidity_field: str | None = None
    compartment: str
    stale_after_s: Annotated[float, Field(gt=0)] = 300.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 60.0

    @property
    def interval_s(self) -> float:
        """Nominal seconds between lines: a third of the stale limit."""
        return self.stale_after_s / 3

    @property
    def via(self) -> str:
        """What the probe reports through: its serial port."""
        return self.port

    @model_validator(mode="after")
    def _backoff_ordered(self) -> SerialProbe:
        check_ordered(self, "backoff_initial_s", "backoff_max_s")
        return self

    @model_validator(mode="after")
    def _fields_exist(self) -> SerialProbe:
        names = {spec.name for spec in self.format.fields}
        for value in (self.field, self.humidity_field):
            if value is not None and value not in names:
                known = ", ".join(sorted(names))
                raise ValueError(f"field {value!r} is not in the line format (fields: {known})")
        return self


def check_ble_probes(probes: Sequence[BleProbe], key: str = "probes") -> list[Problem]:
    """Two probes bound to one channel of one MAC would both show the same sensor; the
    channels of one device are read by one decoder, so they share its format and key."""
    counts = Counter((probe.mac, probe.channel) for probe in probes)
    problems = [
        Problem(
            key,
            f"BLE address {mac}{f' channel {channel!r}' if channel else ''} is bound to "
            f"{count} probes",
            "bind each BLE sensor (or each channel of a multi-probe one) to one probe; check "
            "the MAC printed on the sensor",
        )
        for (mac, channel), count in counts.items()
        if count > 1
    ]
    first: dict[str, BleProbe] = {}
    for probe in probes:
        other = first.setdefault(probe.mac, probe)
        if (other.format, other.bind_key) != (probe.format, probe.bind_key):
            problems.append(
                Problem(
                    key,
                    f"probes {other.code} and {probe.code} read BLE address {probe.mac} with "
                    "different format or bind_key",
                    "give every channel of one device the same format and bind_key",
                )
            )
    return problems


class Parity(StrEnum):
    NONE = "N"
    EVEN = "E"
    ODD = "O"


class _BusCommon(FrozenModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    inter_frame_gap_ms: Annotated[float | None, Field(ge=0, le=1000)] = None
    unavailable_after: Annotated[int, Field(ge=1, le=100)] = 3
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 60.0

    @model_validator(mode="after")
    def _backoff_ordered(self) -> _BusCommon:
        check_ordered(self, "backoff_initial_s", "backoff_max_s")
        return self


class RtuBus(_BusCommon):
    """An RS-485 line behind a serial adapter, Modbus RTU framing."""

    transport: Literal["rtu"]
    device: Annotated[str, Field(min_length=1, description="serial device, e.g. /dev/ttyUSB0")]
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Parity = Parity.NONE
    stopbits: Literal[1, 2] = 1

    @property
    def frame_gap_s(self) -> float:
        """Silence between frames: as configured, else the 3.5 character times of Modbus RTU
        (a fixed 1.75 ms above 19200 baud, as the specification says)."""
        if self.inter_frame_gap_ms is not None:
            return self.inter_frame_gap_ms / 1000
        if self.baudrate > 19200:
            return 0.00175
        return 3.5 * 11 / self.baudrate


class TcpBus(_BusCommon):
    """A Modbus TCP device or RS-485-to-Ethernet gateway."""

    transport: Literal["tcp"]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 502

    @property
    def frame_gap_s(self) -> float:
        """No gap by default: TCP frames are delimited by their header, not by silence."""
        return (self.inter_frame_gap_ms or 0.0) / 1000


Bus = Annotated[RtuBus | TcpBus, Field(discriminator="transport")]


class ModbusProbe(FrozenModel):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", description="probe code, e.g. 208601")]
    transport: Literal["modbus"] = "modbus"
    bus: str
    device_id: Annotated[int, Field(ge=1, le=247)]
    channel: Annotated[int, Field(ge=0)] = 0
    profile: str
    compartment: Annotated[str, Field(description="FRIDGE_CODE/COMPARTMENT_NAME")]
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @property
    def interval_s(self) -> float:
        """Nominal seconds between readings (every probe model answers this)."""
        return self.poll_interval_s

    @property
    def via(self) -> str:
        """What the probe reports through: its bus (a link alarm there explains its silence)."""
        return self.bus


def _transport(value: Any) -> str:
    """A probe without `transport` is a Modbus probe, as in configurations before BLE."""
    if isinstance(value, dict):
        return str(value.get("transport", "modbus"))
    return str(getattr(value, "transport", "modbus"))


Probe = Annotated[
    Annotated[ModbusProbe, Tag("modbus")]
    | Annotated[BleProbe, Tag("ble")]
    | Annotated[SerialProbe, Tag("serial")],
    Discriminator(_transport),
]


def check_modbus_addresses(probes: Iterable[ModbusProbe]) -> list[Problem]:
    """Two probes at one bus address and channel, or one device read with two profiles."""
    problems: list[Problem] = []
    at_address: dict[tuple[str, int, int], str] = {}
    read_as: dict[tuple[str, int], tuple[str, str]] = {}
    for probe in probes:
        address = (probe.bus, probe.device_id, probe.channel)
        other = at_address.setdefault(address, probe.code)
        if other != probe.code:
            problems.append(
                Problem(
                    f"{validation.item_key('probes', 'code', probe.code)}.device_id",
                    f"probe {probe.code} and probe {other} both sit at bus {probe.bus!r}, "
                    f"device {probe.device_id}, channel {probe.channel}",
                    "give each probe its own device id (or channel on a multi-channel logger)",
                )
            )
        profile, first = read_as.setdefault(
            (probe.bus, probe.device_id), (probe.profile, probe.code)
        )
        if profile != probe.profile:
            problems.append(
                Problem(
                    f"{validation.item_key('probes', 'code', probe.code)}.profile",
                    f"probe {probe.code} reads device {probe.device_id} on bus {probe.bus!r} as "
                    f"{probe.profile!r}, probe {first} reads it as {profile!r}",
                    "one device has one register profile: correct the device id or the profile",
                )
            )
    return problems
