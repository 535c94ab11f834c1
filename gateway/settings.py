"""The gateway's configuration: TOML validated whole by pydantic models at start-up.

Each domain keeps its own models beside its code (buses, probes and scanners in
`probes.settings`, fridges and compartments in `gateway.core.compartments`, alarms in
`alerts.settings`, ledgers in `ledger.settings`, forwarders in `gateway.forward.settings`);
`Settings` only composes them. Field rules live on the models; rules that span fields (a probe
bound to a compartment that does not exist, two probes at one bus address...) live in
`cross_check`, so that one run of `coldchain config check` lists every problem at once, each
with its key and its fix.
"""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from alerts.settings import AlertSettings
from alerts.settings import cross_check as alerts_cross_check
from gateway.auth.policy import ACCOUNT_NAME
from gateway.core import validation
from gateway.core.compartments import (
    CompartmentSettings,
    FridgeSettings,
    compartment_refs,
    find_compartment,
)
from gateway.core.errors import ConfigError
from gateway.core.hosts import is_loopback
from gateway.core.problems import Problem
from gateway.forward.settings import InfluxSettings, MqttSettings
from gateway.storage.disk_budget import DiskBudgetSettings
from ledger.settings import LedgerSettings
from probes.profiles import RegisterProfile, builtin_profiles
from probes.scanner_settings import Scanner, check_serial_ports
from probes.settings import (
    BleProbe,
    BleSettings,
    Bus,
    ModbusProbe,
    Probe,
    RtuBus,
    SerialProbe,
    check_ble_probes,
    check_modbus_addresses,
)

_P = TypeVar("_P")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class UnitSettings(_Model):
    code: Annotated[str, Field(pattern=r"^\d{10}$", description="10-digit unit code (单位编码)")]
    name: Annotated[str, Field(min_length=1)]
    region_code: Annotated[str, Field(pattern=r"^\d{6}$", description="6-digit region code")]


class GatewayIdentity(_Model):
    number: Annotated[str, Field(pattern=r"^\d{1,12}$", description="gateway number, e.g. 10001")]
    data_dir: Path = Path("/var/lib/coldchain")


class HttpSettings(_Model):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Secure flag of the sign-in cookies: "auto" when the request came over https (set
    # "always" behind an https reverse proxy).
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    # The server cannot be held open (see gateway.web.connections): a connection waiting for
    # a request closes after idle_timeout_s, a request's headers must arrive within
    # header_timeout_s of its first byte and its body within body_timeout_s; at most
    # max_connections_per_address from one client and max_connections in all.
    idle_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    header_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_connections_per_address: Annotated[int, Field(ge=1, le=10_000)] = 32
    max_connections: Annotated[int, Field(ge=1, le=60_000)] = 512
    # HTTPS with the certificate and key `coldchain install` makes (gateway.ops.certificates).
    # Plain HTTP is for loopback (or an https proxy on this machine): on the clinic's network
    # passwords and personal data would cross it readable, so it must be asked for by name.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    plain_http_on_network: bool = False

    @property
    def scheme(self) -> Literal["http", "https"]:
        return "https" if self.tls_cert is not None else "http"

    @model_validator(mode="after")
    def _tls(self) -> HttpSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "tls_cert and tls_key go together; fix: give both (coldchain install makes "
                "them in /etc/coldchain/tls/) or neither"
            )
        if self.tls_cert is None and not is_loopback(self.host) and not self.plain_http_on_network:
            raise ValueError(
                f"host {self.host!r} would serve the clinic's network over plain HTTP; fix: set "
                'tls_cert and tls_key (coldchain install makes them), or host = "127.0.0.1", '
                "or plain_http_on_network = true if you accept that"
            )
        return self


class StoreSettings(_Model):
    flush_interval_s: Annotated[float, Field(gt=0, le=1.0)] = 0.25
    max_batch: Annotated[int, Field(ge=1, le=100_000)] = 5000
    queue_size: Annotated[int, Field(ge=100)] = 50_000
    retention_days: Annotated[int, Field(ge=1)] = 400
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    disk_budget: DiskBudgetSettings | None = None


class Settings(_Model):
    unit: UnitSettings
    gateway: GatewayIdentity
    http: HttpSettings = HttpSettings()
    store: StoreSettings = StoreSettings()
    profiles: list[RegisterProfile] = []
    buses: list[Bus] = []
    fridges: list[FridgeSettings] = []
    probes: list[Probe] = []
    ble: BleSettings | None = None
    scanners: list[Scanner] = []
    alerts: AlertSettings | None = None
    influx: InfluxSettings | None = None
    mqtt: MqttSettings | None = None
    ledger: LedgerSettings | None = None
    station_accounts: Annotated[
        dict[str, Annotated[str, Field(pattern=ACCOUNT_NAME)]],
        Field(description="scanner station -> the account a scanner wired there acts for"),
    ] = {}

    def probes_of(self, kind: type[_P]) -> list[_P]:
        """The configured probes of one transport, e.g. `probes_of(ModbusProbe)`."""
        return [probe for probe in self.probes if isinstance(probe, kind)]

    def all_profiles(self) -> dict[str, RegisterProfile]:
        return {**builtin_profiles(), **{profile.name: profile for profile in self.profiles}}

    def compartment(self, ref: str) -> tuple[FridgeSettings, CompartmentSettings]:
        return find_compartment(self.fridges, ref)


def cross_check(settings: Settings) -> list[Problem]:
    """Rules that span several fields; each problem names its key and how to fix it."""
    return [
        *_check_unique_names(settings),
        *_check_probe_references(settings),
        *check_modbus_addresses(settings.probes_of(ModbusProbe)),
        *_check_compartment_counts(settings),
        *check_ble_probes(settings.probes_of(BleProbe)),
        *check_serial_ports(
            settings.probes_of(SerialProbe),
            settings.scanners,
            [bus.device for bus in settings.buses if isinstance(bus, RtuBus)],
        ),
        *(
            alerts_cross_check(settings.alerts, compartment_refs(settings.fridges))
            if settings.alerts
            else []
        ),
        *(
            Problem(*unknown)
            for unknown in (
                settings.ledger.unknown_compartments(compartment_refs(settings.fridges))
                if settings.ledger
                else []
            )
        ),
        *_check_station_accounts(settings),
    ]


def _check_station_accounts(settings: Settings) -> list[Problem]:
    """Each assigned station has a scanner, and each ledger station with a scanner wired to
    it has an account to act for (the ledger records who made each movement)."""
    wired = {scanner.station for scanner in settings.scanners}
    problems = [
        Problem(
            f"station_accounts.{station}",
            f"no scanner sits at station {station} (a scan posted over HTTP acts for the "
            "account that posted it)",
            f'add a [[scanners]] with station = "{station}", or remove this line',
        )
        for station in sorted(settings.station_accounts.keys() - wired)
    ]
    stations = settings.ledger.stations if settings.ledger else {}
    problems += [
        Problem(
            f"station_accounts.{station}",
            f"the scanner at {station} ({action} station) acts for no account",
            f'add {station} = "ACCOUNT" under [station_accounts]: an account that may {action}',
        )
        for station, action in sorted(stations.items())
        if station in wired and station not in settings.station_accounts
    ]
    return problems


def _duplicates(values: list[str]) -> list[tuple[str, int]]:
    return [(value, count) for value, count in Counter(values).items() if count > 1]


def _check_unique_names(settings: Settings) -> list[Problem]:
    problems = [
        Problem("buses", f"bus name {name!r} is used {count} times", "give each bus its own name")
        for name, count in _duplicates([bus.name for bus in settings.buses])
    ]
    serial_devices = [bus.device for bus in settings.buses if isinstance(bus, RtuBus)]
    problems += [
        Problem(
            "buses",
            f"serial device {device} is declared {count} times",
            "declare one bus per serial port and put all its probes on it",
        )
        for device, count in _duplicates(serial_devices)
    ]
    problems += [
        Problem(
            "fridges",
            f"fridge code {code!r} is used {count} times",
            "give each fridge its own code",
        )
        for code, count in _duplicates([fridge.code for fridge in settings.fridges])
    ]
    for fridge in settings.fridges:
        problems += [
            Problem(
                f"{validation.item_key('fridges', 'code', fridge.code)}.compartments",
                f"compartment {name!r} appears {count} times in fridge {fridge.code}",
                "name each compartment of a fridge differently",
            )
            for name, count in _duplicates([item.name for item in fridge.compartments])
        ]
    problems += [
        Problem(
            "probes",
            f"probe code {code} is used {count} times",
            "each physical probe has one code: remove or renumber",
        )
        for code, count in _duplicates([probe.code for probe in settings.probes])
    ]
    return problems


def _check_probe_references(settings: Settings) -> list[Problem]:
    problems: list[Problem] = []
    profiles = settings.all_profiles()
    buses = {bus.name for bus in settings.buses}
    refs = compartment_refs(settings.fridges)
    for probe in settings.probes:
        key = validation.item_key("probes", "code", probe.code)
        if probe.compartment not in refs:
            problems.append(
                Problem(
                    f"{key}.compartment",
                    f"probe {probe.code} is bound to {probe.compartment!r}, "
                    "which is not a compartment",
                    f"use one of {', '.join(refs) or '(none: declare [[fridges]] first)'}",
                )
            )
        if not isinstance(probe, ModbusProbe):
            continue
        if probe.bus not in buses:
            problems.append(
                Problem(
                    f"{key}.bus",
                    f"probe {probe.code}: no bus named {probe.bus!r}",
                    f"use one of {_names(buses)} or declare it under [[buses]]",
                )
            )
        profile = profiles.get(probe.profile)
        if profile is None:
            problems.append(
                Problem(
                    f"{key}.profile",
                    f"probe {probe.code}: unknown register profile {probe.profile!r}",
                    f"use one of {_names(profiles)} or define it under [[profiles]]",
                )
            )
        elif probe.channel >= profile.channels:
            problems.append(
                Problem(
                    f"{key}.channel",
                    f"probe {probe.code}: channel {probe.channel} but profile {profile.name} has "
                    f"{profile.channels} channel(s)",
                    f"use a channel from 0 to {profile.channels - 1}",
                )
            )
    return problems


def _check_compartment_counts(settings: Settings) -> list[Problem]:
    bound: dict[str, list[str]] = defaultdict(list)
    for probe in settings.probes:
        bound[probe.compartment].append(probe.code)
    problems: list[Problem] = []
    for fridge in settings.fridges:
        for compartment in fridge.compartments:
            ref = fridge.ref(compartment)
            codes = bound.get(ref, [])
            if len(codes) > compartment.probes:
                problems.append(
                    Problem(
                        "probes",
                        f"compartment {ref} expects {compartment.probes} probe(s) but "
                        f"{', '.join(codes)} are bound to it",
                        f"unbind the extra probe, or set probes = {len(codes)} on the compartment",
                    )
                )
    return problems


def _names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "(none)"


# Tags of the discriminated unions: pydantic puts them in an error's location, a reader of
# the file does not write them there.
_UNION_TAGS = frozenset({"modbus", "ble", "serial", "rtu", "tcp", "hid"})


# Keys a release replaced: (what changed, the fix naming the replacement).
_REPLACED = {
    "ledger.actors": (
        "[ledger.actors] was replaced: a scan acts for an account, whose rights are checked, "
        "and the ledger records that account, not a name per station",
        "remove [ledger.actors] and assign each scanner station an account under "
        '[station_accounts] (e.g. receive-desk = "wang.fang"); scans posted over HTTP act '
        "for the account that posts them",
    ),
}


def _pydantic_problem(error: ErrorDetails, data: object) -> Problem:
    problem = validation.problem(error, data, _UNION_TAGS)
    if error["type"] == "extra_forbidden" and problem.key in _REPLACED:
        return Problem(problem.key, *_REPLACED[problem.key])
    return problem


def parse_settings(data: dict[str, Any], source: str) -> Settings:
    """Validate a configuration mapping whole; raises ConfigError listing every problem."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        problems = [_pydantic_problem(item, data) for item in error.errors()]
        raise ConfigError(_render(problems, source)) from None
    problems = cross_check(settings)
    if problems:
        raise ConfigError(_render(problems, source))
    return settings


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration ({error.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error} (fix: correct the syntax)") from None
    return parse_settings(data, str(path))


def _render(problems: list[Problem], source: str) -> str:
    lines = [problem.render(source) for problem in problems]
    return f"{len(problems)} problem(s) in the configuration:\n" + "\n".join(lines)
