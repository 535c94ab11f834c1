"""The technician's forms as submitted (seed 002, 附表1-4), one model per form.

Install (附表3) binds a new probe to a compartment; replace, move and rename (附表1, parameter
change) swap a probe's hardware, move a probe to another compartment or rename a fridge;
a probe count change sets how many probes a compartment expects; decommission (附表4) stops
collecting from a probe and unbinds it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.storage.commissioning import FormKind

# The longest a form's codes, compartment and probe table may be (enforced at the edge).
CODE, COMPARTMENT, PROBE_FIELDS = 64, 200, 32


class BaseForm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    expected_version: Annotated[
        str, Field(min_length=64, max_length=64, description="the config version the form saw")
    ]
    unit: Annotated[
        str | None, Field(pattern=r"^\d{10}$", max_length=10, description="the form's 单位编码")
    ] = None
    note: Annotated[str, Field(max_length=200)] = ""


class InstallForm(BaseForm):
    """附表3: a probe (its [[probes]] table: code, compartment, transport fields) bound."""

    probe: Annotated[dict[str, Any], Field(max_length=PROBE_FIELDS)]


class ReplaceForm(BaseForm):
    """附表1: the probe `old_code` is replaced by new hardware (`probe`), in its compartment
    unless `probe` names another."""

    old_code: Annotated[str, Field(max_length=CODE)]
    probe: Annotated[dict[str, Any], Field(max_length=PROBE_FIELDS)]


class MoveForm(BaseForm):
    """附表1: probe `code` now sits in `compartment`."""

    code: Annotated[str, Field(max_length=CODE)]
    compartment: Annotated[str, Field(max_length=COMPARTMENT)]


class RenameForm(BaseForm):
    """附表1: fridge `fridge` (its code) is now called `name`."""

    fridge: Annotated[str, Field(max_length=CODE)]
    name: Annotated[str, Field(min_length=1, max_length=60)]


class ProbeCountForm(BaseForm):
    """附表1: compartment `compartment` (`F1/冷藏`) expects `probes` probes."""

    compartment: Annotated[str, Field(max_length=COMPARTMENT)]
    probes: Annotated[int, Field(ge=1, le=16)]


class DecommissionForm(BaseForm):
    """附表4: stop collecting from probe `code` and unbind it."""

    code: Annotated[str, Field(max_length=CODE)]


Form = InstallForm | ReplaceForm | MoveForm | RenameForm | ProbeCountForm | DecommissionForm

FORM_KINDS: dict[type[BaseForm], FormKind] = {
    InstallForm: FormKind.INSTALL,
    ReplaceForm: FormKind.REPLACE,
    MoveForm: FormKind.MOVE,
    RenameForm: FormKind.RENAME,
    ProbeCountForm: FormKind.PROBE_COUNT,
    DecommissionForm: FormKind.DECOMMISSION,
}
