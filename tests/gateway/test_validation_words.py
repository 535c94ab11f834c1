"""Validation errors in a reader's words: keys by the item's code or name, patterns in words."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError

from gateway.core.validation import PATTERN_WORDS, problem, readable_key
from gateway.settings import Settings

PACKAGES = ("gateway", "probes", "alerts", "ledger", "analysis")


def _patterns(schema: object) -> Iterator[str]:
    if isinstance(schema, dict):
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            yield pattern
        for value in schema.values():
            yield from _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value)


def _project_models() -> Iterator[type[BaseModel]]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    seen: set[type[BaseModel]] = set()
    todo = list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        todo += model.__subclasses__()
        if model.__module__.split(".")[0] in PACKAGES:
            yield model


def test_every_pattern_of_every_model_is_said_in_words() -> None:
    patterns = set(_patterns(Settings.model_json_schema()))
    for model in _project_models():
        try:
            patterns |= set(_patterns(model.model_json_schema()))
        except TypeError:  # generic or abstract bases have no schema of their own
            continue
    assert patterns, "no pattern found: the walk is broken"
    assert sorted(patterns - set(PATTERN_WORDS)) == []


def test_list_items_are_named_by_their_code_name_or_position() -> None:
    data = {
        "probes": [{"code": "208601"}, {"code": "208602", "bus": "x"}],
        "buses": [{"name": "rs485"}],
        "alerts": {"people": [{"phone": "1"}]},
        "ledger": {"stations": {"desk": "receive"}},
    }
    assert readable_key(("probes", 1, "modbus", "bus"), data, {"modbus"}) == (
        "probes[code=208602].bus"
    )
    assert readable_key(("buses", 0, "tcp", "port"), data, {"tcp"}) == "buses[name=rs485].port"
    assert readable_key(("alerts", "people", 0, "phone"), data) == "alerts.people[item 1].phone"
    assert readable_key(("ledger", "stations", "desk"), data) == "ledger.stations.desk"
    assert readable_key((), data) == "(top level)"


def test_a_pattern_error_reads_in_words() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(
            {
                "unit": {"code": "12", "name": "x", "region_code": "610102"},
                "gateway": {"number": "1"},
            }
        )
    found = [problem(error, {}) for error in caught.value.errors()]
    assert [(item.key, item.message) for item in found] == [
        ("unit.code", "'12' is not a 10-digit unit code (单位编码), e.g. 6101030203")
    ]
