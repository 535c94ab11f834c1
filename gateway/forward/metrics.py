"""Forwarder health as a JSON-ready dict (/api/health) and Prometheus text (/metrics).

The exposition format is rendered here (a few lines) instead of importing prometheus-client:
memory on a Pi. Format: https://prometheus.io/docs/instrumenting/exposition_formats/
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from gateway.forward.pump import PumpStats


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def health(stats: Iterable[PumpStats], now: datetime) -> dict[str, dict[str, object]]:
    """`{"influx": {...}, "mqtt": {...}}`: one entry per forwarder, for /api/health."""
    out: dict[str, dict[str, object]] = {}
    for item in stats:
        age = None
        if item.oldest_unsent_at is not None:
            age = max(0.0, (now - item.oldest_unsent_at).total_seconds())
        out[item.name] = {
            "target": item.target,
            "state": item.state,
            "backlog": item.backlog,
            "oldest_unsent_at": _iso(item.oldest_unsent_at),
            "oldest_unsent_age_s": age,
            "last_success_at": _iso(item.last_success_at),
            "last_error": item.last_error,
            "last_error_at": _iso(item.last_error_at),
            "consecutive_failures": item.failures,
            "points_sent": item.points_sent,
            "batches_sent": item.batches_sent,
            "points_set_aside": item.points_set_aside,
            "set_aside_recent": list(item.set_aside_recent),
            "live_pending": item.live_pending,
            "cursor": item.cursor,
        }
    return out


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exposition:
    """Collects metric families and renders the text format (version 0.0.4)."""

    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}

    def add(self, name: str, kind: str, help_text: str, value: float, **labels: str) -> None:
        family = self._families.setdefault(name, (kind, help_text, []))
        label_text = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels.items())
        sample = f"{name}{{{label_text}}}" if label_text else name
        family[2].append(f"{sample} {_number(value)}")

    def render(self) -> str:
        lines: list[str] = []
        for name, (kind, help_text, samples) in self._families.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(samples)
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if value != value:  # noqa: PLR0124 - NaN
        return "NaN"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def add_forwarders(exposition: Exposition, stats: Sequence[PumpStats], now: datetime) -> None:
    """Per-forwarder families, label `forwarder`."""
    for item in stats:
        name = item.name
        age = 0.0
        if item.oldest_unsent_at is not None:
            age = max(0.0, (now - item.oldest_unsent_at).total_seconds())
        add = exposition.add
        add(
            "coldchain_forward_up",
            "gauge",
            "1 when the forwarder's last attempt succeeded",
            0 if item.failures else 1,
            forwarder=name,
        )
        add(
            "coldchain_forward_backlog_readings",
            "gauge",
            "Readings stored but not yet acknowledged by the server",
            item.backlog,
            forwarder=name,
        )
        add(
            "coldchain_forward_oldest_unsent_age_seconds",
            "gauge",
            "Age of the oldest reading not yet acknowledged (0 when none)",
            age,
            forwarder=name,
        )
        add(
            "coldchain_forward_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last acknowledged batch (0 if none since start)",
            item.last_success_at.timestamp() if item.last_success_at else 0,
            forwarder=name,
        )
        add(
            "coldchain_forward_last_error_timestamp_seconds",
            "gauge",
            "Unix time of the last error (0 if none since start)",
            item.last_error_at.timestamp() if item.last_error_at else 0,
            forwarder=name,
        )
        add(
            "coldchain_forward_consecutive_failures",
            "gauge",
            "Failed attempts since the last success",
            item.failures,
            forwarder=name,
        )
        add(
            "coldchain_forward_points_sent_total",
            "counter",
            "Points acknowledged by the server since start (replays included)",
            item.points_sent,
            forwarder=name,
        )
        add(
            "coldchain_forward_points_set_aside_total",
            "counter",
            "Points the server refused as invalid, set aside (persisted count)",
            item.points_set_aside,
            forwarder=name,
        )
        if item.last_error:
            add(
                "coldchain_forward_last_error_info",
                "gauge",
                "The last error message of the forwarder",
                1,
                forwarder=name,
                error=item.last_error[:300],
            )


def prometheus_text(stats: Sequence[PumpStats], now: datetime) -> str:
    exposition = Exposition()
    add_forwarders(exposition, stats, now)
    return exposition.render()
