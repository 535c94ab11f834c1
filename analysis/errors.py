"""The report's exception tree: every failure names the thing and the fix."""

from __future__ import annotations

from typing import ClassVar

from gateway.core.errors import ColdchainError


class ReportError(ColdchainError):
    """Base of every error the report raises on purpose (the CLI prints it, exit code 2)."""

    code: ClassVar[str] = "report_failed"


class InfluxUnreachableError(ReportError):
    """The server did not answer at the network level."""

    code: ClassVar[str] = "influx_unreachable"


class InfluxAuthError(ReportError):
    """401/403 from /query."""

    code: ClassVar[str] = "influx_auth_refused"


class InfluxQueryError(ReportError):
    """The server answered with an error (unknown database, bad query...)."""

    code: ClassVar[str] = "influx_query_failed"


class UnknownRegionError(ReportError):
    """--region names a code that no series carries."""

    code: ClassVar[str] = "region_unknown"


class RangeFileError(ReportError):
    """The per-compartment range override file is malformed."""

    code: ClassVar[str] = "range_file_invalid"


class VictoriaMetricsError(ReportError):
    """VictoriaMetrics could not be reached or refused the export."""

    code: ClassVar[str] = "victoria_metrics_failed"


class UnitsFileError(ReportError):
    """The units file (codes to names) is malformed."""

    code: ClassVar[str] = "units_file_invalid"
