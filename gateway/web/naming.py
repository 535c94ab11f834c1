"""Internal ids shown by name, in one place: a refusal's `params` (see `ledger.errors`) and
the JSON the pages read name a compartment by its reference (``F1/冷藏``) and a person by an
account or alarm person id (``wang``); the pages show the fridge's name with the compartment
(``疫苗冰箱 冷藏``) and the person's display name (``王芳``). The answers carry the name beside
the id (``compartment_name``, ``<key>_ref`` in params, ``requested_by_name``, the alarms'
``names``); the pages show the name and never resolve an id themselves."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from gateway.auth.accounts import Account
from gateway.core.compartments import find_compartment
from gateway.web.auth_middleware import AUTH
from gateway.web.keys import SETTINGS

COMPARTMENT, PERSON = "compartment", "person"


def compartment_name(app: web.Application, ref: str) -> str:
    """`F1/冷藏` as its fridge's name and the compartment; the reference itself when the
    configuration has no such compartment."""
    settings = app.get(SETTINGS)
    if settings is None:
        return ref
    try:
        fridge, compartment = find_compartment(settings.current.fridges, ref)
    except KeyError:
        return ref
    return f"{fridge.name} {compartment.name}"


def with_compartment_name(app: web.Application, ref: str) -> dict[str, str]:
    """An answer's compartment: its reference, and beside it the name the pages show."""
    return {"compartment": ref, "compartment_name": compartment_name(app, ref)}


def person_name(app: web.Application, ident: str) -> str:
    """An account's display name, or an alarm person's name; `ident` itself when neither
    knows it (a name typed by hand stays as typed)."""
    auth = app.get(AUTH)
    account = auth.accounts.get(ident) if auth is not None and ident else None
    people = alarm_people(app)
    return people.get(ident, ident) if account is None else _account_name(account, people)


def people_names(app: web.Application) -> dict[str, str]:
    """Every alarm person and account by id, with the name the pages show for it (an alarm's
    acks, notices and silences name people by these ids)."""
    names = alarm_people(app)
    auth = app.get(AUTH)
    for account in auth.accounts.accounts() if auth is not None else ():
        # An alarm names alarm people: an account of the same id does not rename one.
        names.setdefault(account.name, _account_name(account, names))
    return names


def named_people(app: web.Application) -> dict[str, dict[str, str]]:
    """For the alarms' JSON: the alarm people to choose from (``people``), and every id an
    alarm may name with its name to show (``names``)."""
    return {"people": alarm_people(app), "names": people_names(app)}


def alarm_people(app: web.Application) -> dict[str, str]:
    """The alarm people of the configuration, each id with its name."""
    settings = app.get(SETTINGS)
    alerts = settings.current.alerts if settings is not None else None
    return {person.id: person.name for person in alerts.people} if alerts is not None else {}


def _account_name(account: Account, people: Mapping[str, str]) -> str:
    """Its display name, else the name of the alarm person it is (else its own id)."""
    if account.display_name:
        return account.display_name
    return people.get(account.person or account.name, account.name)


def named_reason(app: web.Application, reason: str, params: Mapping[str, object]) -> str:
    """The server's own sentence with the compartment of `params` by name, its reference
    beside it (``2号医用冰箱 冷藏 (F2/冷藏)``)."""
    ref = params.get(COMPARTMENT)
    if not isinstance(ref, str) or not ref:
        return reason
    name = compartment_name(app, ref)
    return reason if name == ref else reason.replace(ref, f"{name} ({ref})")


def named(app: web.Application, params: Mapping[str, object]) -> dict[str, object]:
    """`params` with the compartment and person ids replaced by names (ids kept as
    ``<key>_ref``)."""
    shown = dict(params)
    for key, name_of in ((COMPARTMENT, compartment_name), (PERSON, person_name)):
        value = params.get(key)
        if isinstance(value, str) and value:
            shown[key] = name_of(app, value)
            shown[f"{key}_ref"] = value
    return shown
