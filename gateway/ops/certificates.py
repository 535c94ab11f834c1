"""The gateway's own certificate authority and its HTTPS certificate.

A clinic's gateway has no public name, so no public CA will certify it. `coldchain install`
makes a small CA of the gateway's own (10 years) and a server certificate signed by it for the
names and addresses the clinic uses (825 days, the longest phones accept). The CA's SHA-256
fingerprint is printed: install `ca.crt` on the clinic's phones and computers and compare the
fingerprint they show, once; after that the browser checks the gateway by itself. Existing
files are kept, so running install again changes nothing; delete `gateway.crt` to renew it.

Files (in `TLS_DIR`): `ca.crt` (public), `ca.key` (root only), `gateway.crt`, `gateway.key`
(readable by the service's group); point `[http] tls_cert` and `tls_key` at the last two.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 825
CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY = "ca.crt", "ca.key", "gateway.crt", "gateway.key"


@dataclass(frozen=True, slots=True)
class Issued:
    """What was made or found, for the installer to print."""

    ca_fingerprint: str
    server_fingerprint: str
    names: tuple[str, ...]
    made: bool


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 as openssl and browsers show it: AB:CD:..."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"coldchain {unit}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    found: list[x509.GeneralName] = []
    for name in names:
        try:
            found.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            found.append(x509.DNSName(name))
    return found


def make_ca(unit: str, now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    name = _name(f"coldchain gateway CA {unit}", unit)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def make_server(
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    names: Sequence[str],
    unit: str,
    now: datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0], unit))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def _write(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        os.fchmod(descriptor, mode)
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def ensure_certificates(folder: Path, names: Sequence[str], unit: str, now: datetime) -> Issued:
    """The CA and the server certificate in `folder`, made when missing (kept otherwise)."""
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    made = False
    if (folder / CA_CERT).exists() and (folder / CA_KEY).exists():
        ca = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        loaded = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca_key, ca = make_ca(unit, now)
        _write(folder / CA_KEY, _pem_key(ca_key), 0o600)
        _write(folder / CA_CERT, _pem(ca), 0o644)
        made = True
    if made or not (folder / SERVER_CERT).exists() or not (folder / SERVER_KEY).exists():
        key, server = make_server(ca_key, ca, names, unit, now)
        _write(folder / SERVER_KEY, _pem_key(key), 0o640)
        _write(folder / SERVER_CERT, _pem(server), 0o644)
        made = True
    server = x509.load_pem_x509_certificate((folder / SERVER_CERT).read_bytes())
    alt = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    shown = tuple(str(value) for value in alt.get_values_for_type(x509.DNSName)) + tuple(
        str(value) for value in alt.get_values_for_type(x509.IPAddress)
    )
    return Issued(fingerprint(ca), fingerprint(server), shown, made)
