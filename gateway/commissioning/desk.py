"""Where the technician's forms are handed in: `CommissioningDesk` reads the configuration file,
plans the form's change (`gateway.commissioning.change_plan`), writes the file atomically,
applies the new settings to the running gateway and appends the change to the audit log.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from gateway.commissioning.change_plan import RECENT_S, Evidence, plan_change, validated
from gateway.commissioning.identify import Sightings
from gateway.commissioning.submitted_forms import FORM_KINDS, Form
from gateway.config_file import ConfigSnapshot, check_version, read_config, replace_config
from gateway.core.clock import Clock
from gateway.core.errors import ConfigError
from gateway.settings import Settings
from gateway.storage.commissioning import Change, CommissioningLog
from probes.reading import Reading

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    change: Change
    version: str
    applied: str


Apply = Callable[[Settings], Awaitable[str]]
HoldBus = Callable[[str], AbstractAsyncContextManager[None]]


class CommissioningDesk:
    """Where the forms are handed in: one at a time against the file's current version."""

    def __init__(
        self,
        config_path: Path | None,
        audit: CommissioningLog,
        clock: Clock,
        *,
        latest: Callable[[], Mapping[str, Reading]],
        apply: Apply,
        hold_bus: HoldBus | None = None,
        sightings: Sightings | None = None,
        recent_s: float = RECENT_S,
    ) -> None:
        """`config_path` None: a demo without a file, where discovery and identify work but
        forms are refused. `hold_bus` pauses a polled bus for a discovery scan."""
        self.config_path = config_path
        self.audit = audit
        self.clock = clock
        self.sightings = sightings or Sightings()
        self._latest = latest
        self._apply = apply
        self.hold_bus = hold_bus
        self._recent_s = recent_s

    def snapshot(self) -> ConfigSnapshot:
        if self.config_path is None:
            raise ConfigError(
                "this gateway runs without a configuration file (the demo): commissioning "
                "writes the file; fix: run the gateway with `coldchain run --config FILE`"
            )
        return read_config(self.config_path)

    async def submit(self, form: Form, who: str) -> Outcome:
        """Check, write and apply one form; RefusedError or StaleConfigError leave everything
        as it was."""
        snapshot = self.snapshot()
        check_version(snapshot, form.expected_version)
        document = snapshot.document()
        current = validated(snapshot.document(), str(snapshot.path))
        evidence = Evidence(
            self.clock.now(),
            self.clock.monotonic(),
            self._latest(),
            self.sightings,
            self._recent_s,
        )
        draft = plan_change(form, current, document, evidence)
        new_settings = validated(draft.document, str(snapshot.path))
        written = replace_config(snapshot.path, draft.document.as_string(), snapshot.version)
        change = Change(
            at=self.clock.now(),
            who=who,
            form=FORM_KINDS[type(form)],
            unit_code=new_settings.unit.code,
            unit_name=new_settings.unit.name,
            gateway=new_settings.gateway.number,
            old_fridge=draft.old_fridge,
            new_fridge=draft.new_fridge,
            old_probe=draft.old_probe,
            new_probe=draft.new_probe,
            config_version=written.version,
            note=form.note,
        )
        change = dataclasses.replace(change, id=self.audit.append(change))
        log.info(
            "commissioning: %s by %s (%s -> %s, %s -> %s)",
            change.form,
            who,
            change.old_probe,
            change.new_probe,
            change.old_fridge,
            change.new_fridge,
        )
        applied = await self._apply(new_settings)
        return Outcome(change, written.version, applied)
