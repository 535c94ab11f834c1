"""The configuration file as commissioning writes it: atomic, versioned, comments kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config_file import (
    StaleConfigError,
    add_probe,
    previous_version,
    read_config,
    remove_probe,
    rename_fridge,
    replace_config,
    set_probe_field,
    version_of,
)
from gateway.core.errors import ConfigError
from gateway.settings import load_settings
from tests.commissioning.support import write_clinic


def test_a_write_keeps_the_previous_versions_and_the_mode(tmp_path: Path) -> None:
    path = write_clinic(tmp_path)
    path.chmod(0o640)
    texts = [path.read_text(encoding="utf-8")]
    for number in range(1, 8):
        snapshot = read_config(path)
        text = snapshot.text.replace('测试门诊"', f'测试门诊{number}"', 1)
        written = replace_config(path, text, snapshot.version, keep=3)
        assert written.version == version_of(text.encode())
        texts.append(text)
    assert path.read_text(encoding="utf-8") == texts[-1]
    assert [previous_version(path, n).read_text(encoding="utf-8") for n in (1, 2, 3)] == [
        texts[-2],
        texts[-3],
        texts[-4],
    ]
    assert not previous_version(path, 4).exists()
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.endswith(".new")] == []


def test_a_stale_version_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = write_clinic(tmp_path)
    before = read_config(path)
    replace_config(path, before.text + "\n# first technician\n", before.version)
    after_first = path.read_bytes()
    with pytest.raises(StaleConfigError, match="someone else changed the configuration"):
        replace_config(path, before.text + "\n# second technician\n", before.version)
    assert path.read_bytes() == after_first


def test_a_failed_write_leaves_the_file_and_no_temporary(tmp_path: Path) -> None:
    path = write_clinic(tmp_path)
    snapshot = read_config(path)
    blocker = previous_version(path, 1)
    blocker.mkdir()  # where the previous version should go: the write cannot finish
    with pytest.raises(ConfigError, match="running configuration is unchanged"):
        replace_config(path, snapshot.text + "\n# lost\n", snapshot.version, keep=1)
    assert read_config(path) == snapshot
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["gateway.toml", blocker.name]


def test_edits_keep_comments_and_stay_valid(tmp_path: Path) -> None:
    path = write_clinic(tmp_path)
    document = read_config(path).document()
    add_probe(
        document,
        {
            "code": "300001",
            "bus": "spare",
            "device_id": 3,
            "channel": 0,
            "profile": "logger-8ch",
            "compartment": "F2/冷藏",
        },
    )
    set_probe_field(document, "208600", "compartment", "F1/冷冻")
    remove_probe(document, "208610")
    rename_fridge(document, "F2", "医用冷藏柜")
    text = document.as_string()
    assert "# 测试门诊: the technician's comments must survive every form" in text
    assert 'name = "main"  # the logger on the wall' in text
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    assert {probe.code: probe.compartment for probe in settings.probes} == {
        "208600": "F1/冷冻",
        "208601": "F1/冷藏",
        "208602": "F1/冷藏",
        "300001": "F2/冷藏",
    }
    assert settings.fridges[1].name == "医用冷藏柜"


def test_unknown_probe_or_fridge_raise_key_error(tmp_path: Path) -> None:
    document = read_config(write_clinic(tmp_path)).document()
    with pytest.raises(KeyError):
        remove_probe(document, "999999")
    with pytest.raises(KeyError):
        rename_fridge(document, "F9", "x")


def test_a_file_that_is_not_toml_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[unit\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config(path).document()
