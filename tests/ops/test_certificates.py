"""`coldchain install` makes the gateway's own CA and HTTPS certificate, judged by openssl:
the certificate verifies against the CA for the names the clinic uses, the printed fingerprint
is the one openssl computes, the keys are private, and a second install keeps them. A gateway
configured with them serves HTTPS that openssl and a client trusting the CA accept; plain HTTP
on the clinic's network must be asked for by name."""

from __future__ import annotations

import asyncio
import re
import ssl
import stat
import subprocess
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

from gateway.ops.certificates import CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY
from gateway.ops.install import apply, default_executable, layout_for, plan
from gateway.ops.status import fetch_health, health_url, local_trust
from gateway.settings import HttpSettings, load_settings
from tests.e2e.support import CLINIC_HEADER, GatewayProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "gateway.toml"
INSTALLED = Path("/etc/coldchain/gateway.toml")


def openssl(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, text=True, check=False, timeout=30
    )


def install(root: Path, *names: str) -> tuple[Path, str]:
    layout = layout_for(EXAMPLE, default_executable(), INSTALLED)
    done = apply(plan(layout, EXAMPLE, names), root)
    (line,) = [line for line in done if "certificate authority" in line]
    return root / layout.tls_dir.relative_to("/"), line


def test_install_makes_a_ca_and_a_certificate_openssl_accepts(tmp_path: Path) -> None:
    folder, said = install(tmp_path, "gw-clinic.lan")
    verified = openssl("verify", "-CAfile", str(folder / CA_CERT), str(folder / SERVER_CERT))
    assert verified.stdout.strip() == f"{folder / SERVER_CERT}: OK", verified.stderr
    shown = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(folder / CA_CERT))
    fingerprint = shown.stdout.strip().split("=", 1)[1]
    assert f"(SHA-256 {fingerprint})" in said, said
    names = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(folder / SERVER_CERT))
    for expected in ("DNS:gw-clinic.lan", "IP Address:192.168.10.2", "IP Address:127.0.0.1"):
        assert expected in names.stdout, names.stdout
    assert stat.S_IMODE((folder / CA_KEY).stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / SERVER_KEY).stat().st_mode) == 0o640
    before = (folder / SERVER_CERT).read_bytes()
    _, again = install(tmp_path, "gw-clinic.lan")
    assert again.startswith("kept")
    assert (folder / SERVER_CERT).read_bytes() == before


def test_plain_http_only_on_loopback_unless_asked_for() -> None:
    assert HttpSettings().scheme == "http"
    with pytest.raises(ValidationError, match="plain HTTP"):
        HttpSettings(host="0.0.0.0")
    with pytest.raises(ValidationError, match="go together"):
        HttpSettings(host="0.0.0.0", tls_cert=Path("a.crt"))
    assert HttpSettings(host="0.0.0.0", plain_http_on_network=True).scheme == "http"
    assert HttpSettings(host="::1").scheme == "http"


@pytest.mark.asyncio
async def test_the_gateway_serves_https_with_its_certificate(tmp_path: Path) -> None:
    folder, _ = install(tmp_path / "root")
    config = tmp_path / "gateway.toml"
    tls = f'tls_cert = "{folder / SERVER_CERT}"\ntls_key = "{folder / SERVER_KEY}"\n'
    header = CLINIC_HEADER.format(data_dir=tmp_path / "data")
    config.write_text(header.replace("port = 0\n", "port = 0\n" + tls), encoding="utf-8")
    gateway = await GatewayProcess.start(config)
    try:
        assert gateway.url.startswith("https://127.0.0.1:")
        host, port = gateway.host_port()
        trust = ssl.create_default_context(cafile=folder / CA_CERT)
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{gateway.base}/api/health", ssl=trust) as answer:
                assert answer.status == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with client.get(f"{gateway.base}/api/health"):
                    pass  # the system's authorities do not know the gateway's CA
        checked = await asyncio.to_thread(
            openssl, "s_client", "-connect", f"{host}:{port}", "-CAfile", str(folder / CA_CERT),
            "-verify_return_error", "-verify_ip", "127.0.0.1",
        )  # fmt: skip
        assert re.search(r"Verify return code: 0 \(ok\)", checked.stdout), checked.stdout[-800:]
        http = load_settings(config).http.model_copy(update={"port": port})
        health = await fetch_health(health_url(http), trust=local_trust(http))
        assert health is not None, "coldchain status trusts the gateway's own CA"
    finally:
        await gateway.kill()
