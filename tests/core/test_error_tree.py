"""One exception tree: every package's error root derives from ColdchainError and every kind
of failure carries a stable snake_case code that the edge and the command line can rely on."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

from alerts.errors import AlertConfigError, AlertsError
from analysis.errors import ReportError
from firmware_sim import SimulatorError
from gateway.core import errors as errors_module
from gateway.core.errors import ColdchainError, ConfigError, GatewayError, StoreError
from gateway.forward.errors import ForwardError
from gateway.storage.readings import InvalidReadingError
from gateway.web.json_http import FIELD_CODES, STATUS_CODES
from ledger.errors import LedgerError, ProblemCode
from ledger.stock_errors import StockError
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


# -- every code in the reader's language -----------------------------------------------------

_I18N = Path(__file__).resolve().parents[2] / "gateway" / "web" / "ui" / "static" / "i18n"
_LITERAL_CODE = re.compile(r"""\bcode=["']([a-z][a-z0-9_]*)["']""")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _translations() -> dict[str, dict[str, str]]:
    return {
        language: json.loads((_I18N / f"{language}.json").read_text("utf-8"))
        for language in ("zh", "en")
    }


def _every_code_a_refusal_can_carry() -> dict[str, str]:
    """Each code (of the tree, of a record's field problems, of the HTTP edge and of every
    literal `code=` in the gateway's handlers) and where it comes from."""
    _import_every_project_module()
    codes = {
        kind.code: kind.__qualname__ for kind in [ColdchainError, *_descendants(ColdchainError)]
    }
    codes |= {str(code): "ProblemCode" for code in ProblemCode}
    field_codes = (*FIELD_CODES.values(), "field_wrong_type", "field_invalid")
    codes |= dict.fromkeys((*STATUS_CODES.values(), *field_codes), "json_http")
    gateway = Path(__file__).resolve().parents[2] / "gateway"
    for source in gateway.rglob("*.py"):
        for code in _LITERAL_CODE.findall(source.read_text("utf-8")):
            codes.setdefault(code, str(source.relative_to(gateway.parent)))
    return codes


def test_every_code_a_refusal_can_carry_is_translated_into_each_language() -> None:
    codes = _every_code_a_refusal_can_carry()
    assert {"not_enough_stock", "batch_expired", "dose_too_soon", "forbidden"} <= set(codes)
    for language, strings in _translations().items():
        missing = {code: where for code, where in codes.items() if f"error.{code}" not in strings}
        assert missing == {}, language


def test_both_languages_fill_the_same_placeholders() -> None:
    zh, en = _translations().values()
    differ = {
        key: (sorted(_PLACEHOLDER.findall(text)), sorted(_PLACEHOLDER.findall(en[key])))
        for key, text in zh.items()
        if key.startswith("error.")
        and set(_PLACEHOLDER.findall(text)) != set(_PLACEHOLDER.findall(en[key]))
    }
    assert differ == {}


def test_a_field_problem_code_names_no_kind_of_error() -> None:
    _import_every_project_module()
    kinds = {kind.code for kind in [ColdchainError, *_descendants(ColdchainError)]}
    assert {str(code) for code in ProblemCode} & kinds == set()
