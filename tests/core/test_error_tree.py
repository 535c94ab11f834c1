"""One exception tree: every package's error root derives from ColdchainError and every kind
of failure carries a stable snake_case code that the edge and the command line can rely on."""

from __future__ import annotations

import re

import pytest

from alerts.errors import AlertConfigError, AlertsError
from analysis.errors import ReportError
from firmware_sim import SimulatorError
from gateway.core import errors as errors_module
from gateway.core.errors import ColdchainError, ConfigError, GatewayError, StoreError
from gateway.forward.errors import ForwardError
from ledger.errors import LedgerError, StockError
from probes.ble import AdapterFailedError, AdapterMissingError
from probes.modbus import PollError

ROOTS = {
    GatewayError: "gateway_error",
    ConfigError: "config_invalid",
    StoreError: "store_failed",
    AlertsError: "alert_refused",
    AlertConfigError: "alert_config_invalid",
    ForwardError: "forward_failed",
    LedgerError: "ledger_refused",
    ReportError: "report_failed",
    SimulatorError: "simulator_failed",
    AdapterMissingError: "ble_adapter_missing",
    AdapterFailedError: "ble_adapter_failed",
    PollError: "modbus_poll_failed",
}


@pytest.mark.parametrize(("kind", "code"), ROOTS.items())
def test_every_root_is_a_coldchain_error_with_its_code(kind: type[Exception], code: str) -> None:
    assert issubclass(kind, ColdchainError)
    assert kind.code == code


def _descendants(kind: type[ColdchainError]) -> list[type[ColdchainError]]:
    found: list[type[ColdchainError]] = []
    for sub in kind.__subclasses__():
        found.append(sub)
        found.extend(_descendants(sub))
    return found


def test_every_code_is_snake_case() -> None:
    kinds: list[type[ColdchainError]] = [ColdchainError, *_descendants(ColdchainError)]
    assert len(kinds) > len(ROOTS)
    for kind in kinds:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", kind.code), kind


def test_a_narrower_error_inherits_its_branch_code() -> None:
    refusal = StockError("quantity", "more than the balance")
    assert refusal.code == "ledger_refused"
    assert isinstance(refusal, ColdchainError)


def test_the_tree_in_the_docstring_names_every_root() -> None:
    doc = errors_module.__doc__ or ""
    for kind, code in ROOTS.items():
        assert re.search(rf"{kind.__name__}\s+{code}\b", doc), kind
