"""One exception tree: every package's error root derives from ColdchainError and every kind
of failure carries a stable snake_case code that the edge and the command line can rely on."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from alerts.errors import AlertConfigError, AlertsError
from analysis.errors import ReportError
from firmware_sim import SimulatorError
from gateway.core import errors as errors_module
from gateway.core.errors import ColdchainError, ConfigError, GatewayError, StoreError
from gateway.forward.errors import ForwardError
from gateway.storage.readings import InvalidReadingError
from ledger.errors import LedgerError, StockError
from probes.ble_scanner import AdapterFailedError, AdapterMissingError
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


def test_a_kind_of_refusal_has_its_own_code_and_a_narrower_error_inherits_it() -> None:
    refusal = StockError("quantity", "more than the balance")
    assert (refusal.code, LedgerError.code) == ("stock_refused", "ledger_refused")
    assert isinstance(refusal, ColdchainError)
    assert InvalidReadingError("a NaN temperature").code == StoreError.code == "store_failed"


def _import_every_project_module() -> None:
    for package in ("gateway", "probes", "alerts", "ledger", "analysis", "firmware_sim"):
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def test_no_two_kinds_share_a_code() -> None:
    _import_every_project_module()
    owners: dict[str, list[str]] = {}
    for kind in [ColdchainError, *_descendants(ColdchainError)]:
        if "code" in vars(kind):
            owners.setdefault(kind.code, []).append(kind.__qualname__)
    assert {code: names for code, names in owners.items() if len(set(names)) > 1} == {}


def test_the_tree_in_the_docstring_names_every_root() -> None:
    doc = errors_module.__doc__ or ""
    for kind, code in ROOTS.items():
        assert re.search(rf"{kind.__name__}\s+{code}\b", doc), kind
