"""Secrets that sign acknowledgement links: the published ones (every configuration file the
project ships) and guessable ones are refused by `config check` and `coldchain run`; empty and
short ones by the settings themselves."""

from __future__ import annotations

import secrets
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from alerts.settings import AckLinkSettings, weak_secret
from gateway.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "config"


def secret_of(path: Path) -> str | None:
    ack = tomllib.loads(path.read_text(encoding="utf-8")).get("alerts", {}).get("ack")
    return None if ack is None else str(ack["secret"])


def shipped_secrets() -> list[str]:
    return [s for path in sorted(CONFIG.glob("*.toml")) if (s := secret_of(path)) is not None]


def test_every_shipped_secret_and_guessable_ones_are_refused() -> None:
    assert len(shipped_secrets()) >= 2
    for secret in [*shipped_secrets(), "a" * 40, "1234" * 10]:
        assert weak_secret(secret) is not None, secret
    assert weak_secret(secrets.token_urlsafe(32)) is None
    for short in ("", "x" * 31):
        with pytest.raises(ValidationError, match="at least 32"):
            AckLinkSettings.model_validate({"secret": short, "base_url": "http://gw:8080"})


@pytest.mark.parametrize("command", ["check", "run"])
def test_the_example_configuration_is_refused_until_its_secret_is_set(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = CONFIG / "gateway.toml"
    argv = (
        ["config", "check", str(example)]
        if command == "check"
        else ["run", "--config", str(example)]
    )
    assert main(argv) in {1, 2}
    assert "secret is the published example's or the demo's" in capsys.readouterr().err
    own = tmp_path / "gateway.toml"
    text = example.read_text(encoding="utf-8")
    published = secret_of(example)
    assert published is not None
    own.write_text(text.replace(published, secrets.token_urlsafe(32)), "utf-8")
    if command == "check":
        assert main(["config", "check", str(own)]) == 0, capsys.readouterr().err
