"""Who may do what on the gateway: roles, actions, the acting account and the one check.

The people are those of the clinic (see the README's "Roles"): the three alarm tiers, the
technician, the vaccinator, the county viewer and the admin. Every state change, whatever
carried it (an HTTP route, a scan posted over HTTP, a scanner wired to a station, an MQTT
command), names the account that acts (`User`) and calls `authorize(user, Action.X)`; a user
whose roles do not include the action is refused with `ForbiddenError`, which names what is missing.
The HTTP edge (`gateway.web.access`) turns it into a 403; a scan station shows it in its feed,
an MQTT command in its reply. Nothing here knows how the request came in.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from gateway.core.errors import GatewayError
from ledger.masking import FULL, MASKED, Shown


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    MANAGER = "manager"  # vaccine manager, alarm tier 1
    HEAD = "head"  # department head, alarm tier 2
    UNIT_HEAD = "unit_head"  # unit head, alarm tier 3
    VACCINATOR = "vaccinator"
    COUNTY = "county"  # county/city CDC viewer
    ADMIN = "admin"


class Action(enum.StrEnum):
    VIEW = "view"  # dashboard, fridges, readings, alarms list
    VIEW_PERSONAL_DATA = "view_personal_data"  # unmasked names, ID numbers, phones
    ALARM_ACK = "alarm_ack"
    ALARM_CLOSE = "alarm_close"
    ALARM_SILENCE = "alarm_silence"  # a fridge or a compartment
    ALARM_SILENCE_UNIT = "alarm_silence_unit"  # every alarm of the unit
    PROBE_BIND = "probe_bind"  # install, replace, move, decommission
    CALIBRATION = "calibration"
    MANUAL_READING = "manual_reading"
    SCAN = "scan"  # POST /api/scans: record a scan (what it then does is checked on its own)
    STOCK_RECEIVE = "stock_receive"  # receive, and move between compartments
    HOLD_OVERRIDE = "hold_override"  # let stock move through a compartment's alarm hold
    STOCK_ISSUE = "stock_issue"
    STOCK_REQUEST = "stock_request"  # ask to return upward, scrap or issue to the same level
    STOCK_APPROVE = "stock_approve"  # the upper level (county) decides those requests
    STOCKTAKE = "stocktake"
    ADMINISTER = "administer"  # a dose: the scan at vaccination and the record
    RECORD_CORRECT = "record_correct"
    CATALOGUE_IMPORT = "catalogue_import"
    UPLOAD_VIEW = "upload_view"
    REPORT_VIEW = "report_view"  # the clinic's monthly report, generated on request
    EXCURSION_DISPOSITION = "excursion_disposition"
    CONFIG_CHANGE = "config_change"
    ACCOUNTS = "accounts"
    AUDIT_VIEW = "audit_view"


ACCOUNT_NAME = r"^[a-z0-9][a-z0-9._-]{0,31}$"
"""The form of an account name (the accounts store's and the settings that name accounts)."""

_TIERS = frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset(Role),
    Action.VIEW_PERSONAL_DATA: frozenset({Role.MANAGER, Role.VACCINATOR}),
    Action.ALARM_ACK: _TIERS,
    Action.ALARM_CLOSE: _TIERS,
    Action.ALARM_SILENCE: _TIERS | {Role.TECHNICIAN},
    Action.ALARM_SILENCE_UNIT: _TIERS,
    Action.PROBE_BIND: frozenset({Role.TECHNICIAN}),
    Action.CALIBRATION: frozenset({Role.TECHNICIAN}),
    Action.MANUAL_READING: frozenset({Role.MANAGER, Role.TECHNICIAN}),
    Action.SCAN: frozenset({Role.MANAGER, Role.VACCINATOR, Role.TECHNICIAN}),
    Action.STOCK_RECEIVE: frozenset({Role.MANAGER}),
    Action.HOLD_OVERRIDE: frozenset({Role.MANAGER}),
    Action.STOCK_ISSUE: frozenset({Role.MANAGER}),
    Action.STOCK_REQUEST: frozenset({Role.MANAGER}),
    # Seed 002: returns up, same-level issues and scraps need 上级机构审核, the upper level's
    # approval, never the clinic's own heads; the requisition review is the county's too.
    Action.STOCK_APPROVE: frozenset({Role.COUNTY}),
    Action.STOCKTAKE: frozenset({Role.MANAGER}),
    Action.ADMINISTER: frozenset({Role.VACCINATOR}),
    Action.RECORD_CORRECT: frozenset({Role.VACCINATOR, Role.MANAGER}),
    Action.CATALOGUE_IMPORT: frozenset({Role.MANAGER, Role.ADMIN}),
    Action.UPLOAD_VIEW: frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD, Role.COUNTY}),
    Action.REPORT_VIEW: frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD, Role.COUNTY}),
    Action.EXCURSION_DISPOSITION: frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD}),
    Action.CONFIG_CHANGE: frozenset({Role.TECHNICIAN, Role.ADMIN}),
    Action.ACCOUNTS: frozenset({Role.ADMIN}),
    Action.AUDIT_VIEW: frozenset({Role.ADMIN, Role.UNIT_HEAD, Role.COUNTY}),
}
assert set(PERMISSIONS) == set(Action), "every action needs its roles"


@dataclass(frozen=True, slots=True)
class User:
    """The account that acts. `person` is the alarm tier person id this account answers as;
    `scope`, for an API token with one, the only actions it may do (of its roles' actions)."""

    name: str
    roles: frozenset[Role]
    display_name: str = ""
    person: str | None = None
    scope: frozenset[Action] | None = None

    def may(self, action: Action) -> bool:
        in_scope = self.scope is None or action in self.scope
        return in_scope and bool(self.roles & PERMISSIONS[action])


class ForbiddenError(GatewayError):
    """The acting account may not do this (or no usable account acts): nothing was done.
    `code` is stable for clients and pages; the message is for people and names the fix."""

    code: ClassVar[str] = "forbidden"


def authorize(user: User, action: Action) -> User:
    """`user`, if one of their roles permits `action`; `ForbiddenError` otherwise."""
    if user.scope is not None and action not in user.scope and user.roles & PERMISSIONS[action]:
        raise ForbiddenError(
            f"{user.name}'s API token may not {action.value}: its scope is "
            f"{', '.join(sorted(user.scope))}; fix: make a token whose scope includes it"
        )
    if not user.may(action):
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise ForbiddenError(
            f"{user.name} ({', '.join(sorted(user.roles)) or 'no role'}) may not "
            f"{action.value}; this needs one of: {allowed}"
        )
    return user


def shown_to(user: User | None) -> Shown:
    """What `user` may see of personal data: everything with `Action.VIEW_PERSONAL_DATA`,
    masked otherwise (nobody signed in: masked). Every serialiser of records, scans, audit
    entries and refusals that may hold personal data asks this, and only this."""
    return FULL if user is not None and user.may(Action.VIEW_PERSONAL_DATA) else MASKED


def alarm_person(user: User, named: str | None = None, people: Collection[str] = ()) -> str:
    """The alarm person `user` acknowledges and closes as; a request naming another person
    is refused (an account acts for itself, never for someone it names). `people`, the tiers'
    person ids, go into the fix."""
    if user.person is None:
        choices = f" (one of: {', '.join(sorted(people))})" if people else ""
        raise ForbiddenError(
            f"account {user.name} answers for no alarm person; fix: an admin sets its person "
            f"id{choices}"
        )
    if named is not None and named != user.person:
        raise ForbiddenError(
            f"{user.name} is alarm person {user.person!r} and cannot act for {named!r}; fix: "
            f"leave out the person, or act as {named}"
        )
    return user.person
