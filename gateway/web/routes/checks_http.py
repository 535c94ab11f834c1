"""What the routes of the checks share: the `Checks` the handlers need (on the app as `CHECKS`),
the body base and field types, the store's refusals, the month query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from gateway.auth.policy import User
from gateway.checks.manual_readings import Missing, missing
from gateway.core.clinic_time import CLINIC_TZ, month_bounds
from gateway.core.clock import Clock
from gateway.settings import Settings
from gateway.storage.checks import ChecksStore, ChecksStoreError, DuplicateRecordError
from gateway.storage.readings import ReadingStore
from gateway.web.json_http import refusal
from gateway.web.query import query_month

MAX_LIST = 2000

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Celsius = Annotated[float, Field(allow_inf_nan=False)]


@dataclass(slots=True)
class Checks:
    """What the handlers need: the checks file, the configuration in force, the readings, the
    clock. A reload hands the new settings to `reconfigure`: a probe bound a moment ago can be
    checked at once."""

    store: ChecksStore
    settings: Settings
    readings: ReadingStore
    clock: Clock

    name = "checks"

    async def reconfigure(self, settings: Settings) -> None:
        self.settings = settings

    def compartment_refs(self) -> list[str]:
        return [
            f"{fridge.code}/{compartment.name}"
            for fridge in self.settings.fridges
            for compartment in fridge.compartments
        ]

    def missing_between(self, since: datetime, until: datetime) -> list[Missing]:
        start = max(since, self.store.first_opened_at)
        if start > until:
            return []
        first = start.astimezone(CLINIC_TZ).date()
        last = until.astimezone(CLINIC_TZ).date()
        recorded = self.store.manual_days(first, last)
        return missing(recorded, self.compartment_refs(), start, until)


CHECKS = web.AppKey("checks", Checks)


CHECKS = web.AppKey("checks", Checks)


@contextmanager
def store_refusals() -> Iterator[None]:
    try:
        yield
    except DuplicateRecordError:
        raise refusal(
            web.HTTPConflict,
            [("taken_at", "that half-day already has its record")],
            code="record_exists",
        ) from None
    except ChecksStoreError as error:
        raise refusal(
            web.HTTPServiceUnavailable, [("store", str(error))], code=error.code
        ) from None


def recorder_name(user: User) -> str:
    return user.display_name or user.name


def month_window(request: web.Request, checks: Checks) -> tuple[int, int, datetime, datetime]:
    """The `month` query (YYYY-MM, default this month in China) and its bounds."""
    _, year, month = query_month(request, checks.clock.now())
    since, until = month_bounds(year, month)
    return year, month, since, until
