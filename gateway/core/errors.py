"""The project's one exception tree. Library errors are translated into these where they enter.

Every error raised on purpose derives from `ColdchainError`, so the command line and the HTTP
edge each catch one class. `code` is a stable snake_case name for the kind of failure (the pages
translate codes; the English message stays for people reading logs and API answers). A subclass
that names a new kind of failure sets its own `code`; one that only narrows an existing kind
inherits it. Each package's error module gives its kinds their codes (alarm_closed,
ack_link_expired, stock_refused, scan_invalid, influx_unreachable...); no two kinds share one.

    ColdchainError                  error
    ├── GatewayError                gateway_error        the running gateway (gateway/)
    │   ├── ConfigError             config_invalid       settings cannot be used
    │   │   └── AlertConfigError    alert_config_invalid   (alerts/errors.py, also AlertsError)
    │   ├── StoreError              store_failed         a SQLite store cannot be opened/written
    │   ├── AlertsError             alert_refused        alerts/errors.py: refused events, links
    │   ├── ForwardError            forward_failed       gateway/forward/errors.py
    │   └── ...                                          accounts, checks, commissioning, ops
    ├── LedgerError                 ledger_refused       ledger/errors.py: field + reason
    ├── ReportError                 report_failed        analysis/errors.py
    ├── SimulatorError              simulator_failed     firmware_sim/__init__.py
    ├── AdapterMissingError         ble_adapter_missing  probes/ble_scanner.py
    ├── AdapterFailedError          ble_adapter_failed   probes/ble_scanner.py
    └── PollError                   modbus_poll_failed   probes/modbus.py

Domain packages (probes, alerts, ledger, analysis, firmware_sim) import this module and nothing
else of the gateway's, so a domain's root sits here beside the gateway's.
"""

from __future__ import annotations

from typing import ClassVar


class ColdchainError(Exception):
    """Root of every error the project raises on purpose; `code` names its kind."""

    code: ClassVar[str] = "error"


class GatewayError(ColdchainError):
    """Base of every error the running gateway raises on purpose."""

    code: ClassVar[str] = "gateway_error"


class ConfigError(GatewayError):
    """The configuration cannot be used; the message lists every problem with its fix."""

    code: ClassVar[str] = "config_invalid"


class StoreError(GatewayError):
    """The SQLite store cannot be opened or written."""

    code: ClassVar[str] = "store_failed"
