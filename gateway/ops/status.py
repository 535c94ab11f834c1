"""`coldchain status`: one screen for a technician at the Pi, from the running gateway's
/api/health, or from the store file when the gateway is not running.

`format_health` and `format_offline` are pure: a health document (or the last stored reading
of each probe) in, the screen's lines and the list of problems out. The problems of a health
document are `gateway.ops.health_verdict.judge`'s, the same that make its top-level `status`. A
non-empty problem list makes the command exit non-zero, so scripts and monitoring can use it too.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from gateway.core.errors import GatewayError
from gateway.ops.health_verdict import judge
from gateway.settings import HttpSettings
from gateway.storage.files import FileReport, inspect
from gateway.storage.readings import LastReading, last_of_each_probe
from gateway.storage.registry import STORES, Store


@dataclass(frozen=True, slots=True)
class StatusReport:
    lines: list[str]
    problems: list[str]

    @property
    def text(self) -> str:
        verdict = "ALL OK" if not self.problems else f"NOT OK: {len(self.problems)} problem(s)"
        body = [*self.lines, "", verdict]
        body += [f"  - {problem}" for problem in self.problems]
        return "\n".join(body) + "\n"


def health_url(http: HttpSettings) -> str:
    """The local address of the gateway's API (a wildcard listen address means loopback)."""
    host = "127.0.0.1" if http.host in ("0.0.0.0", "", "::") else http.host  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    return f"{http.scheme}://{host}:{http.port}/"


def local_trust(http: HttpSettings) -> ssl.SSLContext | None:
    """For a gateway serving HTTPS: trust its own CA (`ca.crt` beside its certificate)."""
    if http.tls_cert is None:
        return None
    authority = http.tls_cert.parent / "ca.crt"
    return ssl.create_default_context(cafile=authority if authority.exists() else None)


async def fetch_health(
    url: str, timeout_s: float = 5.0, trust: ssl.SSLContext | None = None
) -> dict[str, Any] | None:
    """The health document, or None when nothing listens at `url` (gateway not running);
    `trust` checks an HTTPS gateway's certificate (default: the system's authorities)."""
    target = url.rstrip("/") + "/api/health"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(target, ssl=trust or True) as response,
        ):
            if response.status != 200:
                raise GatewayError(
                    f"{target}: HTTP {response.status}; fix: check --url points at a coldchain"
                    " gateway"
                )
            body: dict[str, Any] = await response.json()
            return body
    except aiohttp.ClientConnectorCertificateError as error:
        raise GatewayError(
            f"{target}: the gateway's certificate is not trusted ({error.certificate_error}); "
            "fix: install its ca.crt, or check [http] tls_cert"
        ) from None
    except aiohttp.ClientConnectorError:
        return None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise GatewayError(
            f"{target}: no answer ({error or 'timeout'}); the gateway may be hung: see"
            " journalctl -u coldchain"
        ) from None


def _age(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "never"
    value = float(seconds)
    if value < 120:
        return f"{value:.0f} s ago"
    if value < 7200:
        return f"{value / 60:.0f} min ago"
    return f"{value / 3600:.1f} h ago"


def _temperature(value: object) -> str:
    return f"{value:6.1f} °C" if isinstance(value, int | float) else "     - °C"


def format_health(body: Mapping[str, Any]) -> StatusReport:
    lines = [
        f"coldchain gateway {body.get('gateway')} of unit {body.get('unit')}"
        f" (up since {body.get('started_at')}, now {body.get('now')}): {judge(body).status}",
        *_store_lines(body.get("store") or {}),
        *_bus_lines(body.get("buses") or []),
        *_probe_lines(body.get("probes") or []),
        *_source_lines(body.get("sources") or []),
        _clock_line(body),
        *_forwarder_lines(body.get("forwarders") or {}),
        _alarm_line(body.get("alarms")),
        _disk_line(body.get("disk_budget")),
    ]
    return StatusReport(lines, judge(body).texts())


def _store_lines(store: Mapping[str, Any]) -> list[str]:
    return [
        f"Store      {store.get('path')}: last seq {store.get('last_seq')},"
        f" {store.get('readings_written')} written since start,"
        f" last commit {store.get('last_commit_at')}"
    ]


def _bus_lines(buses: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for bus in buses:
        state = "connected" if bus.get("connected") else "NOT CONNECTED"
        lines.append(f"Bus        {bus.get('name')} ({bus.get('transport')}): {state}")
        for device in bus.get("devices") or []:
            ok = bool(device.get("available"))
            lines.append(
                f"             device {device.get('device_id')} ({device.get('profile')}):"
                f" {'ok' if ok else 'UNAVAILABLE'}, {device.get('failed_polls')} of"
                f" {device.get('polls')} polls failed"
            )
    return lines


def _probe_lines(probes: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"Probe      {probe.get('code')!s:<10} {probe.get('status')!s:<12} "
        f"{_temperature(probe.get('temperature'))}  {_age(probe.get('age_s'))}"
        for probe in probes
    ]


def _source_lines(sources: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for source in sources:
        details = ", ".join(
            f"{key} {value}"
            for key, value in source.items()
            if key != "name" and isinstance(value, str | int | float | bool) and value != ""
        )
        lines.append(f"Source     {source.get('name')}: {details}")
    return lines


def _clock_line(body: Mapping[str, Any]) -> str:
    clock = body.get("clock")
    synced = clock.get("synced") if isinstance(clock, Mapping) else body.get("clock_synced")
    return "Clock      synchronised" if synced else "Clock      NOT synchronised"


def _forwarder_lines(forwarders: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        f"Forward    {name} -> {pump.get('target')}: {pump.get('state')},"
        f" backlog {pump.get('backlog')}, oldest unsent"
        f" {_age(pump.get('oldest_unsent_age_s'))}"
        for name, pump in forwarders.items()
    ]
    return lines or ["Forward    none configured"]


def _alarm_line(alarms: Mapping[str, Any] | None) -> str:
    if alarms is None:
        return "Alarms     off (no [alerts] section)"
    return (
        f"Alarms     {int(alarms.get('open_alarms') or 0)} open,"
        f" {alarms.get('outbox_pending')} notification(s) pending,"
        f" {int(alarms.get('outbox_failed') or 0)} failed"
    )


def _disk_line(budget: Mapping[str, Any] | None) -> str:
    if budget is None:
        return "Disk       no budget configured"
    used = int(budget.get("used_bytes") or 0)
    limit = int(budget.get("max_bytes") or 0)
    return f"Disk       {used / 1e6:.1f} MB of {limit / 1e6:.0f} MB budget"


def read_last_readings(store: Path) -> list[LastReading]:
    """Each probe's newest reading, read-only from the store file (no migration, no write)."""
    if not store.exists():
        raise GatewayError(
            f"{store}: no store; fix: check [gateway] data_dir, or start the gateway once"
        )
    return last_of_each_probe(store)


@dataclass(frozen=True, slots=True)
class StoreFile:
    """One store of the data folder as `coldchain status` shows it."""

    store: Store
    size: int
    report: FileReport


def read_store_files(data_dir: Path) -> list[StoreFile]:
    """Every registered store present in `data_dir`: size, schema version, the row counts of
    its status tables (read-only, unchecked)."""
    return [
        StoreFile(store, path.stat().st_size, inspect(path, store.status_tables, check=False))
        for store in STORES
        if (path := store.path(data_dir)).is_file()
    ]


def _store_file_lines(files: Sequence[StoreFile], problems: list[str]) -> list[str]:
    lines = []
    for item in files:
        counts = ", ".join(f"{rows} {table}" for table, rows in item.report.rows.items())
        lines.append(
            f"File       {item.store.file}: {item.size / 1e6:.1f} MB, schema"
            f" {item.report.schema_version}, {counts}"
            + (", personal data" if item.store.personal_data else "")
        )
        if item.report.schema_version > item.store.schema_version:
            problems.append(
                f"{item.store.file}: schema version {item.report.schema_version} is newer than"
                f" this gateway's {item.store.schema_version}; fix: upgrade the gateway software"
            )
    return lines


def format_offline(
    url: str,
    store: Path,
    readings: Sequence[LastReading],
    now: datetime,
    files: Sequence[StoreFile] = (),
) -> StatusReport:
    lines = [f"coldchain gateway NOT RUNNING (nothing answers at {url})", f"Store      {store}"]
    lines += [
        f"Probe      {item.probe:<10} {item.status:<12} {_temperature(item.temperature)}"
        f"  {_age((now - item.taken_at).total_seconds())}"
        for item in readings
    ]
    if not readings:
        lines.append("Probe      no reading stored yet")
    problems = [
        "the gateway is not running; fix: sudo systemctl start coldchain, and see"
        " journalctl -u coldchain for why it stopped"
    ]
    lines += _store_file_lines(files, problems)
    return StatusReport(lines, problems)


def format_unreachable(url: str) -> StatusReport:
    """Nothing answers at a `--url` given without a configuration (no store to read)."""
    return StatusReport(
        [f"coldchain gateway NOT REACHABLE (nothing answers at {url})"],
        [
            f"nothing answers at {url}; fix: check the address, or on the gateway itself run"
            " sudo systemctl start coldchain (coldchain status --config FILE there also shows"
            " the last stored readings)"
        ],
    )
