"""`coldchain report monthly ...`: the parser and the coroutine the gateway CLI wires.

County mode: `--influx-url URL [--influx-db coldchain] --month 2026-10 [--region CODE]
[--source auto|daily|raw] --out DIR`, or `--victoria-url URL` for daily figures kept in
VictoriaMetrics. Clinic mode: `--config gateway.toml [--data-dir DIR] --month ... --out DIR`
reads the gateway's own stores. Exit codes: 0 written, 2 a `ReportError` (printed on one line
naming the thing and the fix), 1 with `--strict` when the report was written but its figures
cannot be trusted as they stand (its doubts: no data, mostly unsynchronised time stamps).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.errors import ReportError
from analysis.progress import Progress

MONTHLY_DESCRIPTION = """\
The monthly cold-chain report: for each fridge compartment, how complete its records are, how
long it spent above or below its range, its excursions, its mean and mean kinetic temperature
(MKT), and the WHO recorder alarms (heat: >= +8 °C for 10 h; freeze: <= -0.5 °C for 60 min);
with the vaccine doses exposed by excursions, per clinic and for the county. Written as one
HTML page to read or print and CSV tables to open in a spreadsheet, into the --out folder.

Two ways to make it:
  for the county (the CDC): from the county's central InfluxDB, every clinic's gateway
    forwards its readings and its daily figures there; give --influx-url (and a user or token
    if it asks). The daily figures make a province's month in a minute; --source raw folds
    every reading instead (to audit one clinic or fridge with --region or other ranges).
    With VictoriaMetrics, give --victoria-url (daily figures only).
  for one clinic: on its gateway, from the gateway's own records; give --config.
"""

MONTHLY_EPILOG = """\
examples:
  coldchain report monthly --influx-url http://influx.county:8086 --month 2026-10 --out reports/
  coldchain report monthly --influx-url http://influx.county:8086 --region 610102 \\
      --month 2026-10 --ranges ranges.csv --out reports/
  coldchain report monthly --config /etc/coldchain/gateway.toml --month 2026-10 --out reports/

A compartment's range is 2-8 °C (refrigerated) or at most -15 °C (frozen) unless --ranges gives
another one. Exit status: 0 when the report is written, 2 when it cannot be (the message says
what to fix), 1 with --strict when it was written but says at its top why its figures cannot
be trusted (a month without data, most readings stamped by an unsynchronised clock).
"""


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `report monthly` to an argparse subparsers object; returns the `report` parser."""
    report = subparsers.add_parser("report", help="cold-chain reports")
    kinds = report.add_subparsers(dest="report_kind", required=True)
    monthly = kinds.add_parser(
        "monthly",
        help="monthly cold-chain report (HTML + CSV) for a county or one clinic",
        description=MONTHLY_DESCRIPTION,
        epilog=MONTHLY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    monthly.add_argument(
        "--month", metavar="YYYY-MM", help="the month to report, e.g. 2026-10 (default: last month)"
    )
    monthly.add_argument(
        "--out", metavar="FOLDER", type=Path, required=True, help="where to write the report"
    )
    monthly.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when the month has no data, days a clinic's gateway did not report, or"
        " mostly unsynchronised time stamps (the report is still written and says so at its"
        " top, naming the clinics)",
    )
    monthly.add_argument(
        "--region",
        metavar="CODE",
        help="only the clinics of this 6-digit region code, e.g. 610102 (default: all)",
    )
    monthly.add_argument(
        "--units",
        metavar="FILE",
        type=Path,
        help="a CSV file code,name naming the unit and region codes in the report, and fridges"
        " as UNIT/FRIDGE (6101030203/F1,1号医用冰箱)",
    )
    source = monthly.add_argument_group("for the county: the central InfluxDB")
    source.add_argument(
        "--influx-url", metavar="URL", help="its address, e.g. http://influx.county:8086"
    )
    source.add_argument(
        "--influx-db",
        metavar="NAME",
        default="coldchain",
        help="the database the gateways write to (default: coldchain)",
    )
    source.add_argument(
        "--influx-rp",
        metavar="NAME",
        help="its retention policy, if not the database's default",
    )
    source.add_argument(
        "--influx-user", metavar="NAME", help="user name, if the server asks for one"
    )
    source.add_argument(
        "--influx-password",
        metavar="PASSWORD",
        default=os.environ.get("COLDCHAIN_INFLUX_PASSWORD"),
        help="that user's password (better: set COLDCHAIN_INFLUX_PASSWORD)",
    )
    source.add_argument(
        "--influx-token",
        metavar="TOKEN",
        default=os.environ.get("COLDCHAIN_INFLUX_TOKEN"),
        help="an API token instead, for InfluxDB 2 or 3 (better: set COLDCHAIN_INFLUX_TOKEN)",
    )
    source.add_argument(
        "--interval-s",
        metavar="SECONDS",
        type=float,
        default=60.0,
        help="how often the probes take a reading; completeness counts against it (default: 60)",
    )
    source.add_argument(
        "--max-gap-s",
        metavar="SECONDS",
        type=float,
        default=0.0,
        help="a longer silence between two readings is a gap in the record, not time in range"
        " (default: 3 readings' worth)",
    )
    source.add_argument(
        "--ranges",
        metavar="FILE",
        type=Path,
        help="a CSV (unit,fridge,compartment,min_c,max_c) or TOML file of compartments whose"
        " range is not the usual one",
    )
    source.add_argument(
        "--source",
        choices=("auto", "daily", "raw"),
        default="auto",
        help="daily: the gateways' daily figures; raw: every reading (slow, for audits); auto:"
        " daily figures when the database has them, else raw (default: auto)",
    )
    source.add_argument(
        "--victoria-url",
        metavar="URL",
        help="read the daily figures from VictoriaMetrics instead, e.g. http://vm.province:8428",
    )
    source.add_argument("--chunk-size", type=int, default=10_000, help=argparse.SUPPRESS)
    clinic = monthly.add_argument_group("for one clinic: on its gateway")
    clinic.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="the gateway's configuration, e.g. /etc/coldchain/gateway.toml",
    )
    clinic.add_argument(
        "--data-dir",
        metavar="FOLDER",
        type=Path,
        help="where the gateway keeps its records, if not where the configuration says",
    )
    return report  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Written:
    html: Path
    csvs: list[Path]
    doubts: list[str]


async def run_report(args: argparse.Namespace) -> int:
    """Run `report monthly`; 0 when written, 2 on a `ReportError` (message on stderr), 1 when
    written with doubts and `--strict`."""
    try:
        written = await make_report(args)
    except ReportError as error:
        print(f"coldchain report: {error}", file=sys.stderr)
        return 2
    print(f"报告已生成: {written.html}", file=sys.stderr)
    for path in written.csvs:
        print(f"  {path}", file=sys.stderr)
    for doubt in written.doubts:
        print(f"注意: {doubt}", file=sys.stderr)
    return 1 if args.strict and written.doubts else 0


async def make_report(args: argparse.Namespace) -> Written:
    from analysis.csv_out import write_csvs
    from analysis.html import write_html
    from analysis.period import month_bounds
    from gateway.core.clinic_time import previous_month

    month = args.month or previous_month(datetime.now(UTC))
    month_bounds(month)
    if (args.influx_url or args.victoria_url) and args.config:
        raise ReportError("give --influx-url or --victoria-url (county) or --config (clinic)")
    if args.victoria_url:
        report = await _victoria(args, month)
    elif args.influx_url:
        report = await _county(args, month)
    elif args.config or args.data_dir:
        report = await _clinic(args, month)
    else:
        raise ReportError(
            "no data source: pass --influx-url URL for the county report, or --config "
            "gateway.toml for this clinic's report"
        )
    if args.units:
        from analysis.units import load_names

        report.names |= load_names(args.units)
    out: Path = args.out
    try:
        html = write_html(report, out / f"report-{month}.html")
        csvs = write_csvs(report, out)
    except OSError as error:
        raise ReportError(f"cannot write the report into {out}: {error}") from error
    return Written(html, csvs, list(report.doubts))


def _options(args: argparse.Namespace, month: str) -> Any:
    from analysis.county import CountyOptions
    from analysis.ranges import load_ranges

    ranges = load_ranges(args.ranges) if args.ranges else None
    return CountyOptions(month, args.region, args.interval_s, args.max_gap_s, ranges)


async def _victoria(args: argparse.Namespace, month: str) -> Any:
    from analysis import victoria
    from analysis.alarm_events import fold_alarms
    from analysis.county import ACK_GRACE_MS, daily_report
    from analysis.period import month_bounds

    if args.source == "raw" or args.ranges:
        raise ReportError(
            "--victoria-url reads the gateways' daily figures only: for --source raw or "
            "--ranges, read the raw points from InfluxDB (--influx-url)"
        )
    options = _options(args, month)
    start, end = month_bounds(month)
    expected = (end - start) // int(options.interval_s * 1000)
    fold = await victoria.fold_daily(args.victoria_url, start, end, expected, args.region)
    exposures = await victoria.exposures(args.victoria_url, start, end, args.region)
    events = await victoria.alarm_events(args.victoria_url, start, end + ACK_GRACE_MS, args.region)
    manual = await victoria.fold_manual(args.victoria_url, start, end, args.region)
    return daily_report(fold, options, fold_alarms(events, start, end), exposures, manual)


async def _county(args: argparse.Namespace, month: str) -> Any:
    from analysis.county import county_daily_report, county_report, day_windows, has_daily
    from analysis.influxql import InfluxQL

    options = _options(args, month)
    progress = Progress(day_windows(month) + 2, f"月报 {month}")
    try:
        async with InfluxQL(
            args.influx_url,
            args.influx_db,
            rp=args.influx_rp,
            username=args.influx_user,
            password=args.influx_password,
            token=args.influx_token,
            chunk_size=args.chunk_size,
        ) as client:

            def step(detail: str) -> None:
                progress.update(1, detail)

            daily = args.source == "daily" or (
                args.source == "auto" and not args.ranges and await has_daily(client, args.region)
            )
            if daily:
                if args.ranges:
                    raise ReportError(
                        "--ranges applies to raw points only (the daily figures were measured "
                        "against each gateway's own ranges): add --source raw"
                    )
                return await county_daily_report(client, options, step)
            return await county_report(client, options, step)
    finally:
        progress.close()


def _existing_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ReportError(f"--data-dir {path}: no such folder (the gateway's data folder)")
    return path


async def _clinic(args: argparse.Namespace, month: str) -> Any:
    from gateway.core.errors import ConfigError
    from gateway.reports.clinic import clinic_report
    from gateway.settings import load_settings

    if not args.config:
        raise ReportError(
            "clinic mode needs --config gateway.toml: the probes' placement, ranges and "
            "intervals come from it (--data-dir only overrides where the stores are)"
        )
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        raise ReportError(str(error)) from error
    data_dir: Path = _existing_dir(args.data_dir or settings.gateway.data_dir)
    progress = Progress(max(len(settings.probes), 1), f"月报 {month}")
    try:
        return await clinic_report(
            settings, data_dir, month, lambda detail: progress.update(1, detail)
        )
    finally:
        progress.close()
