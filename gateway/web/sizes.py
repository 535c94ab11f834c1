"""The longest text each kind of request field may hold.

Every text field of every request body has a maximum, enforced by its body model at the edge
(422 naming the field and its limit) and listed in the README; a test walks every route's body
model to keep it so. Limits of one domain live with it (the silence reason in
`[alerts.silences] reason_max`, a person's name and address in the ledger's body models); these
are the shared ones.
"""

from __future__ import annotations

CODE = 64  # ids and codes: account and person names, unit, probe and fridge codes, language
LABEL = 100  # display names, token names, scanner and station names, how an ack was made
REASON = 500  # causes, actions, notes, reasons
PATH = 2000  # a path on this gateway to return to after signing in
PASSWORD = 256
SCAN_TEXT = 11_000  # a scan's raw bytes (8192 at most) as text, or base64
PROBE_FIELDS = 32  # keys of a probe's table in a commissioning form
