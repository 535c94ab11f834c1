"""The system's trust, read from the hashed CA folder (gateway.forward.tls)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from gateway.forward.tls import system_trust
from tests.forward.support import hashed_folder
from tests.servers import make_tls


def test_the_system_trust_holds_no_ca_until_a_chain_needs_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A default context holds every CA of the bundle (2.4 MB); this one none yet, and checks
    certificates and host names as the default does."""
    tls = make_tls(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", tls.ca)))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.other_ca))
    assert ssl.create_default_context().cert_store_stats()["x509_ca"] == 1
    context = system_trust()
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_without_a_hashed_folder_the_bundle_is_the_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_tls(tmp_path / "tls")
    empty = tmp_path / "certs"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    assert system_trust().cert_store_stats()["x509_ca"] == 1
