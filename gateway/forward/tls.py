"""The system's trust for the forwarders' TLS, without the system's CA bundle in memory.

`ssl.create_default_context()` parses the whole bundle (/etc/ssl/certs/ca-certificates.crt,
~150 CAs) into the context: 2.4 MB resident for each context. Debian's CA folder holds the same
CAs under their hashed names, from which OpenSSL loads only a CA a chain needs, when it needs it.
aiohttp builds its own default context when imported; this one serves where a context of our
own is needed (the MQTT forwarder without `ca_file`).
"""

from __future__ import annotations

import ssl
from pathlib import Path


def system_trust() -> ssl.SSLContext:
    """A client context verifying certificates and host names against the system's CAs, as
    `ssl.create_default_context()` does: read from the hashed CA folder where there is one, else
    from the bundle."""
    folder = ssl.get_default_verify_paths().capath
    if folder is None or not any(Path(folder).glob("*.0")):
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(capath=folder)
    return context
