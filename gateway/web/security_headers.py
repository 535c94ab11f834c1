"""The security headers of every response, in one place.

Added as the response is prepared (aiohttp's `on_response_prepare`), so static files, refusals
and aiohttp's own 404s carry them too. A handler that sets a stricter or more specific policy
keeps it (the pages allow their own scripts; the sign-in page none); every policy forbids
framing. Content Security Policy by what is sent:

- a server-rendered document (certificate, printable forms, the ack page): no script at all,
  inline styles, images from here, forms posting only here;
- anything else (JSON, CSV, text, static files): nothing may load or run (`sandbox`).

Every response says `nosniff` and `same-origin` referrers; every response but the static files
says `no-store`, because any of them may hold personal data (records, scans, the audit log).
"""

from __future__ import annotations

from aiohttp import web

CSP = "Content-Security-Policy"
NO_FRAMES = "frame-ancestors 'none'"
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    f"base-uri 'none'; {NO_FRAMES}"
)
DATA_CSP = f"default-src 'none'; {NO_FRAMES}; sandbox"
STATIC_PREFIX = "/static/"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    policy = headers.get(CSP)
    if policy is None:
        html = response.content_type == "text/html"
        headers[CSP] = DOCUMENT_CSP if html else DATA_CSP
    elif "frame-ancestors" not in policy:
        headers[CSP] = f"{policy}; {NO_FRAMES}"
    if not request.path.startswith(STATIC_PREFIX):
        headers.setdefault("Cache-Control", "no-store")


def install_security_headers(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
