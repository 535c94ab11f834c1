"""Who a reading belongs to: the identity every forwarded point carries.

Built from the settings (pure), shared by the line-protocol encoder, the MQTT JSON and the event
lanes, so every side names a probe's series the same way. The identity must stay stable: a replay
after a crash writes the same series and timestamp, which the central side overwrites instead of
duplicating. A reload that binds, moves or unbinds a probe places it anew (`Identity.place`):
its next points carry the new fridge and compartment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.core.compartments import CompartmentRef, FridgeSettings, find_compartment


@dataclass(frozen=True, slots=True)
class ProbeTags:
    """Where a probe sits. `kind` is the compartment kind (refrigerated, frozen)."""

    fridge: str | None = None
    compartment: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """The gateway's identity plus the placement of each configured probe.

    A probe found in the store but not (or no longer) in the configuration is forwarded with
    its code only: its readings are never held back for want of metadata."""

    unit: str
    gateway: str
    probes: Mapping[str, ProbeTags]
    region: str | None = None
    _placed: dict[str, ProbeTags] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._placed.update(self.probes)

    def tags(self) -> tuple[tuple[str, str | None], ...]:
        """The gateway's own tags, on every forwarded point and message: unit, region,
        gateway."""
        return (("unit", self.unit), ("region", self.region), ("gateway", self.gateway))

    def of(self, probe: str) -> ProbeTags:
        return self._placed.get(probe, _UNPLACED)

    def place(self, settings: Configured) -> None:
        """Take the probes' placement of `settings` (a reload), for everyone sharing this
        identity; the unit and the gateway number do not change in place."""
        placement = placements(settings)
        self._placed.clear()
        self._placed.update(placement)


_UNPLACED = ProbeTags()


class _Unit(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def region_code(self) -> str: ...


class _Gateway(Protocol):
    @property
    def number(self) -> str: ...


class _BoundProbe(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def compartment(self) -> str: ...


class Configured(Protocol):
    """What the identity is built from: the root `Settings` is one (forwarding sits below the
    settings that compose it, so it names what it reads instead of importing them)."""

    @property
    def unit(self) -> _Unit: ...

    @property
    def gateway(self) -> _Gateway: ...

    @property
    def fridges(self) -> Sequence[FridgeSettings]: ...

    @property
    def probes(self) -> Sequence[_BoundProbe]: ...


def identity_from_settings(settings: Configured) -> Identity:
    """The identity of the configured gateway: unit and region codes, gateway number, probes."""
    return Identity(
        settings.unit.code, settings.gateway.number, placements(settings), settings.unit.region_code
    )


def placements(settings: Configured) -> dict[str, ProbeTags]:
    """Where each configured probe sits."""
    placement: dict[str, ProbeTags] = {}
    for probe in settings.probes:
        ref = CompartmentRef.parse(probe.compartment) or CompartmentRef(probe.compartment, "")
        try:
            kind: str | None = str(find_compartment(settings.fridges, str(ref))[1].kind)
        except KeyError:
            kind = None
        placement[probe.code] = ProbeTags(ref.fridge, ref.compartment or None, kind)
    return placement
