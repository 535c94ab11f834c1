"""Whether a host is this machine, in one place: the gateway serves plain HTTP only there
(`gateway.settings.HttpSettings`), and the report asks a server there for uncompressed answers
(`analysis.influxql`)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1); any other name or address is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
