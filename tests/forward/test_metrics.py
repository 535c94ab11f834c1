"""Health dict and Prometheus text of the forwarders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.forward.metrics import health, prometheus_text
from gateway.forward.pump import PumpStats

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stats(**changes: object) -> PumpStats:
    base: dict[str, object] = {
        "name": "influx",
        "target": "http://h db=cc rp=",
        "state": "retrying",
        "backlog": 1200,
        "oldest_unsent_at": NOW - timedelta(minutes=10),
        "last_success_at": NOW,
        "last_error": 'InfluxDB refused "x"\nline',
        "last_error_at": NOW,
        "points_sent": 5000,
        "batches_sent": 1,
        "points_set_aside": 3,
        "set_aside_recent": (),
        "live_pending": 4,
        "dropped_to_backlog": 0,
        "cursor": 99,
        "failures": 2,
    }
    return PumpStats(**(base | changes))  # type: ignore[arg-type]


def test_health_shows_backlog_age_success_error_and_counts() -> None:
    entry = health([stats()], NOW)["influx"]
    assert entry["backlog"] == 1200
    assert entry["oldest_unsent_age_s"] == 600.0
    assert entry["last_success_at"] == NOW.isoformat()
    assert entry["points_sent"] == 5000
    assert entry["points_set_aside"] == 3
    assert str(entry["last_error"]).startswith("InfluxDB refused")


def test_prometheus_exposition() -> None:
    text = prometheus_text([stats(), stats(name="mqtt", failures=0, last_error=None)], NOW)
    lines = text.splitlines()
    assert "# TYPE coldchain_forward_backlog_readings gauge" in lines
    assert 'coldchain_forward_backlog_readings{forwarder="influx"} 1200' in lines
    assert 'coldchain_forward_oldest_unsent_age_seconds{forwarder="influx"} 600' in lines
    assert 'coldchain_forward_points_set_aside_total{forwarder="mqtt"} 3' in lines
    assert 'coldchain_forward_up{forwarder="mqtt"} 1' in lines
    success = 'coldchain_forward_last_success_timestamp_seconds{forwarder="influx"}'
    assert f"{success} {int(NOW.timestamp())}" in lines
    assert 'error="InfluxDB refused \\"x\\"\\nline"' in text
    assert lines.count("# TYPE coldchain_forward_up gauge") == 1
    assert text.endswith("\n")
