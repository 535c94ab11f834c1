"""The technician's forms (seed 002, 附表1-4) planned as changes to the configuration.

`plan_change` is pure: it checks the form against the configuration and what is reporting, edits
the TOML document and says what the form records (`Draft`); `validated` checks the edited
configuration whole. `gateway.commissioning.desk` writes and applies the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from gateway.commissioning.identify import Sightings
from gateway.commissioning.submitted_forms import (
    BaseForm,
    DecommissionForm,
    Form,
    InstallForm,
    MoveForm,
    ProbeCountForm,
    RenameForm,
    ReplaceForm,
)  # fmt: skip
from gateway.config_file import (
    add_probe,
    remove_probe,
    rename_fridge,
    set_probe_count,
    set_probe_field,
)
from gateway.core.compartments import CompartmentKind
from gateway.core.errors import ConfigError, GatewayError
from gateway.settings import Settings, parse_settings
from probes.reading import ProbeStatus, Reading
from probes.settings import BleProbe, ModbusProbe, Probe, SerialProbe

if TYPE_CHECKING:
    from tomlkit.toml_document import TOMLDocument

# A probe counts as reporting when it gave a good reading (or discovery saw it) this recently.
RECENT_S = 600.0


KIND_LABEL = {CompartmentKind.REFRIGERATED: "冷藏", CompartmentKind.FROZEN: "冷冻"}

_PROBE = TypeAdapter[Any](Probe)


class RefusedError(GatewayError):
    """The form is refused; the running configuration is unchanged. One reason per line."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the running gateway knows about which probes report: the latest reading of each
    configured probe, and discovery's sightings of hardware not yet configured."""

    now: datetime
    monotonic: float
    latest: Mapping[str, Reading]
    sightings: Sightings
    recent_s: float = RECENT_S


@dataclass(frozen=True, slots=True)
class Draft:
    """What a form changes: the edited document and the form's entries."""

    document: TOMLDocument
    old_fridge: str | None
    new_fridge: str | None
    old_probe: str | None
    new_probe: str | None


# -- pure checks ------------------------------------------------------------------------------


def ble_key(mac: str, channel: str) -> str:
    """A BLE sensor's channel as discovery names it: `ble:MAC`, or `ble:MAC:CHANNEL` for one
    temperature of a device with several."""
    return f"ble:{mac}:{channel}" if channel else f"ble:{mac}"


def hardware_key(probe: Any) -> str:
    """Where a probe is, as discovery names it: bus address, MAC, or serial port."""
    if isinstance(probe, ModbusProbe):
        return f"modbus:{probe.bus}:{probe.device_id}:{probe.channel}"
    if isinstance(probe, BleProbe):
        return ble_key(probe.mac, probe.channel)
    if isinstance(probe, SerialProbe):
        return f"serial:{probe.port}"
    raise TypeError(f"not a probe: {probe!r}")


def fridge_label(settings: Settings, ref: str) -> str:
    """A compartment as the paper forms write it: fridge name then compartment ("海尔冰箱冷藏")."""
    fridge, compartment = settings.compartment(ref)
    return f"{fridge.name}{compartment.name}"


def probe_label(settings: Settings, code: str, ref: str) -> str:
    """A probe as the paper forms write it: code then the compartment's kind ("208601冷藏")."""
    _, compartment = settings.compartment(ref)
    return f"{code}{KIND_LABEL[compartment.kind]}"


def _configured(settings: Settings, code: str) -> Any:
    for probe in settings.probes:
        if probe.code == code:
            return probe
    known = ", ".join(probe.code for probe in settings.probes) or "(none)"
    raise RefusedError([f"probe {code} is not configured on this gateway; configured: {known}"])


def _check_unit(form: BaseForm, settings: Settings, ref: str) -> None:
    if form.unit is not None and form.unit != settings.unit.code:
        raise RefusedError(
            [
                f"compartment {ref} belongs to unit {form.unit}, but this gateway serves unit "
                f"{settings.unit.code} ({settings.unit.name}): bind probes only to this unit's "
                "fridges, or use that unit's gateway"
            ]
        )


def _check_compartment(settings: Settings, ref: str) -> None:
    try:
        settings.compartment(ref)
    except KeyError:
        refs = [f"{f.code}/{c.name}" for f in settings.fridges for c in f.compartments]
        raise RefusedError(
            [f"{ref!r} is not a compartment of this unit; use one of {', '.join(refs)}"]
        ) from None


def _new_probe(fields: dict[str, Any]) -> Any:
    try:
        return _PROBE.validate_python(fields)
    except ValidationError as error:
        raise RefusedError(
            [
                f"probe {'.'.join(map(str, item['loc'])) or 'table'}: {item['msg']}"
                for item in error.errors()
            ]
        ) from None


def _as_written(probe: Any) -> dict[str, Any]:
    """The probe's table as the technician gave it, with values in their validated types."""
    return dict(probe.model_dump(mode="json", exclude_unset=True))


def _check_free(settings: Settings, probe: Any, replacing: str | None = None) -> None:
    """The code and the hardware address are not used by another probe."""
    reasons = []
    key = hardware_key(probe)
    for other in settings.probes:
        if other.code == replacing:
            continue
        if other.code == probe.code:
            reasons.append(
                f"probe {probe.code} is already bound to {other.compartment}: decommission or "
                "move it there first"
            )
        elif hardware_key(other) == key and not isinstance(other, SerialProbe):
            reasons.append(
                f"{key} is already bound elsewhere, as probe {other.code} in "
                f"{other.compartment}: decommission that probe first"
            )
    if reasons:
        raise RefusedError(reasons)


def _check_reporting(probe: Any, evidence: Evidence, configured: bool) -> None:
    """A configured probe needs a good recent reading; new hardware a recent discovery sighting
    (with a reading, except a serial port, which discovery lists without reading it)."""
    if configured:
        reading = evidence.latest.get(probe.code)
        if reading is not None and reading.status is ProbeStatus.OK:
            age = (evidence.now - reading.taken_at).total_seconds()
            if age <= evidence.recent_s:
                return
        state = "no reading yet" if reading is None else f"last reading {reading.status.value}"
        raise RefusedError(
            [
                f"probe {probe.code} is not reporting ({state}, none good in the last "
                f"{evidence.recent_s:.0f} s): check its wiring or battery, then try again"
            ]
        )
    key = hardware_key(probe)
    seen = evidence.sightings.seen_at(key)
    if seen is None or evidence.monotonic - seen > evidence.recent_s:
        raise RefusedError(
            [
                f"probe {probe.code} ({key}) is not reporting: discovery has not seen it in the "
                f"last {evidence.recent_s:.0f} s; run discovery for its bus, BLE or serial ports "
                "and check it appears with a reading, then bind it"
            ]
        )


# -- the forms as edits -----------------------------------------------------------------------


def plan_change(
    form: Form, settings: Settings, document: TOMLDocument, evidence: Evidence
) -> Draft:
    """Check the form and edit `document`; RefusedError names every reason it cannot be done."""
    if isinstance(form, InstallForm):
        return _install(form, settings, document, evidence)
    if isinstance(form, ReplaceForm):
        return _replace(form, settings, document, evidence)
    if isinstance(form, MoveForm):
        return _move(form, settings, document, evidence)
    if isinstance(form, RenameForm):
        return _rename(form, settings, document)
    if isinstance(form, ProbeCountForm):
        return _probe_count(form, settings, document)
    return _decommission(form, settings, document)


def _install(
    form: InstallForm, settings: Settings, document: TOMLDocument, evidence: Evidence
) -> Draft:
    probe = _new_probe(form.probe)
    _check_unit(form, settings, probe.compartment)
    _check_compartment(settings, probe.compartment)
    _check_free(settings, probe)
    _check_reporting(probe, evidence, configured=False)
    add_probe(document, _as_written(probe))
    return Draft(
        document,
        None,
        fridge_label(settings, probe.compartment),
        None,
        probe_label(settings, probe.code, probe.compartment),
    )


def _replace(
    form: ReplaceForm, settings: Settings, document: TOMLDocument, evidence: Evidence
) -> Draft:
    old = _configured(settings, form.old_code)
    fields = {"compartment": old.compartment} | form.probe
    probe = _new_probe(fields)
    _check_unit(form, settings, probe.compartment)
    _check_compartment(settings, probe.compartment)
    _check_free(settings, probe, replacing=old.code)
    _check_reporting(probe, evidence, configured=False)
    remove_probe(document, old.code)
    add_probe(document, _as_written(probe))
    return Draft(
        document,
        fridge_label(settings, old.compartment),
        fridge_label(settings, probe.compartment),
        probe_label(settings, old.code, old.compartment),
        probe_label(settings, probe.code, probe.compartment),
    )


def _move(form: MoveForm, settings: Settings, document: TOMLDocument, evidence: Evidence) -> Draft:
    probe = _configured(settings, form.code)
    _check_unit(form, settings, form.compartment)
    _check_compartment(settings, form.compartment)
    if probe.compartment == form.compartment:
        raise RefusedError([f"probe {probe.code} is already in {form.compartment}"])
    _check_reporting(probe, evidence, configured=True)
    set_probe_field(document, probe.code, "compartment", form.compartment)
    return Draft(
        document,
        fridge_label(settings, probe.compartment),
        fridge_label(settings, form.compartment),
        probe_label(settings, probe.code, probe.compartment),
        probe_label(settings, probe.code, form.compartment),
    )


def _rename(form: RenameForm, settings: Settings, document: TOMLDocument) -> Draft:
    fridge = next((item for item in settings.fridges if item.code == form.fridge), None)
    if fridge is None:
        known = ", ".join(item.code for item in settings.fridges) or "(none)"
        raise RefusedError([f"no fridge with code {form.fridge!r}; fridges here: {known}"])
    _check_unit(form, settings, form.fridge)
    rename_fridge(document, fridge.code, form.name)
    probes = ", ".join(
        probe_label(settings, p.code, p.compartment)
        for p in settings.probes
        if p.compartment.startswith(f"{fridge.code}/")
    )
    return Draft(document, fridge.name, form.name, probes, probes)


def _probe_count(form: ProbeCountForm, settings: Settings, document: TOMLDocument) -> Draft:
    _check_unit(form, settings, form.compartment)
    _check_compartment(settings, form.compartment)
    fridge, compartment = settings.compartment(form.compartment)
    set_probe_count(document, fridge.code, compartment.name, form.probes)
    label = fridge_label(settings, form.compartment)
    probes = ", ".join(
        probe_label(settings, p.code, p.compartment)
        for p in settings.probes
        if p.compartment == form.compartment
    )
    return Draft(
        document, f"{label}（{compartment.probes} 个探头）", f"{label}（{form.probes} 个探头）",
        probes or None, probes or None,
    )  # fmt: skip


def _decommission(form: DecommissionForm, settings: Settings, document: TOMLDocument) -> Draft:
    probe = _configured(settings, form.code)
    _check_unit(form, settings, probe.compartment)
    remove_probe(document, probe.code)
    return Draft(
        document,
        fridge_label(settings, probe.compartment),
        None,
        probe_label(settings, probe.code, probe.compartment),
        None,
    )


def validated(document: TOMLDocument, source: str) -> Settings:
    """The edited configuration validated whole; its problems become the refusal's reasons."""
    try:
        return parse_settings(document.unwrap(), source)
    except ConfigError as error:
        lines = str(error).splitlines()
        raise RefusedError(["the configuration would not be valid", *lines[1:]]) from None
