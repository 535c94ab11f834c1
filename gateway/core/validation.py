"""pydantic's validation errors as a clinic's technician reads them.

Two things pydantic says in a developer's words are said here in a reader's:

- where: `probes.0.device_id` becomes `probes[code=208601].device_id`, each list item named by
  its own code, name or id as written in the file (`probes[item 1]` when it has none);
- what: `String should match pattern '^\\d{10}$'` becomes "a 10-digit unit code", from one
  table of every pattern the models use (a test walks the models and holds it complete).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic_core import ErrorDetails

from gateway.core.problems import Problem

E164 = r"^\+[1-9]\d{6,14}$"
HTTP_URL = r"^https?://[^\s/]+(/[^\s]*)?$"
MAC = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
BLE_CHANNEL = r"^[A-Za-z0-9_]*(/[0-9]+)?$"

#: Each pattern of the settings and request models, in words ("... must be <words>").
PATTERN_WORDS: Mapping[str, str] = {
    r"^\d{10}$": "a 10-digit unit code (单位编码), e.g. 6101030203",
    r"^\d{6}$": "a 6-digit region code, e.g. 610102",
    r"^\d{1,12}$": "a gateway number of 1 to 12 digits, e.g. 10001",
    r"^[0-9]{7}$": "a 7-digit number",
    r"^[A-Za-z0-9_-]+$": "letters, digits, '_' or '-' only (no spaces), e.g. 208601",
    r"^[A-Za-z0-9_.-]+$": "letters, digits, '_', '.' or '-' only (no spaces)",
    r"^[A-Za-z0-9_]+$": "letters, digits or '_' only (no spaces)",
    r"^[a-z0-9][a-z0-9_-]*$": "lower-case letters, digits, '_' or '-', starting with a letter"
    " or digit",
    r"^[a-z0-9][a-z0-9._-]{0,31}$": "an account name: up to 32 lower-case letters, digits,"
    " '.', '_' or '-', starting with a letter or digit, e.g. wang.fang",
    r"^[^/]+$": "a name without '/'",
    r"^[^\s,\\]+$": "a name without spaces, commas or backslashes",
    r"^[^+#\s]+$": "a topic without spaces, '+' or '#'",
    r"^hci\d+$": "a Bluetooth adapter name such as hci0",
    MAC: "a MAC address such as A4:C1:38:00:11:22",
    BLE_CHANNEL: "a channel as `coldchain discover ble` lists it, e.g. 2, remote or remote/2",
    r"^[0-9A-Fa-f]+$": "hexadecimal digits (0-9, a-f)",
    E164: "a phone number in international form, e.g. +8613800001111",
    HTTP_URL: "an http:// or https:// address",
    r"^wx[0-9a-f]{16}$": "a WeChat app id: wx and 16 hexadecimal digits",
    r"^AC[0-9a-f]{32}$": "a Twilio account SID: AC and 32 hexadecimal digits",
}

#: Keys that name a list item, in order of preference.
_ITEM_NAMES = ("code", "name", "id", "number", "station")

_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove this key or correct its spelling",
    "literal_error": "use one of the values listed",
    "enum": "use one of the values listed",
    "union_tag_invalid": "set transport to one of the values listed",
    "union_tag_not_found": 'add transport = "rtu" or "tcp"',
}


def pattern_in_words(pattern: str) -> str:
    return PATTERN_WORDS.get(pattern, f"of the form {pattern} (a regular expression)")


def readable_key(loc: Sequence[int | str], data: object, skip: Iterable[str] = ()) -> str:
    """`loc` as a reader finds it in `data`: list items by their code or name; `skip` leaves
    out the tags pydantic adds for a discriminated union (never written in the file)."""
    hidden = frozenset(skip)
    text = ""
    node: object = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
            text += f"[{_item_name(node, part)}]"
            continue
        node = node.get(part) if isinstance(node, Mapping) else None
        if str(part) in hidden:
            continue
        text += f".{part}" if text else str(part)
    return text or "(top level)"


def item_key(section: str, field: str, value: object) -> str:
    """The key of one list item named by its identifying field: `probes[code=208601]`."""
    return f"{section}[{field}={value}]"


def _item_name(item: object, index: int) -> str:
    if isinstance(item, Mapping):
        for key in _ITEM_NAMES:
            value = item.get(key)
            if isinstance(value, str | int) and str(value).strip():
                text = str(value)
                return f"{key}={text if text.isprintable() else repr(text)}"
    return f"item {index + 1}"


def reason(error: ErrorDetails) -> str:
    """What is wrong with the value, in words."""
    context = error.get("ctx") or {}
    if error["type"] == "string_pattern_mismatch":
        return f"{error['input']!r} is not {pattern_in_words(str(context.get('pattern')))}"
    if error["type"] == "finite_number":
        return f"{error['input']!r} is not a finite number"
    return error["msg"]


def fix(error: ErrorDetails) -> str:
    context = error.get("ctx") or {}
    if error["type"] in _FIXES:
        return _FIXES[error["type"]]
    if error["type"] == "finite_number":
        return "write a finite number such as 8.0: nan or inf switches its check off"
    if "pattern" in context:
        return f"write {pattern_in_words(str(context['pattern']))}"
    if any(bound in context for bound in ("ge", "gt", "le", "lt")):
        return "use a value within the bounds stated"
    return "correct the value"


def problem(error: ErrorDetails, data: object, skip: Iterable[str] = ()) -> Problem:
    """One configuration problem: the key as written, the reason and the fix in words."""
    key = readable_key(error["loc"], data, skip)
    if error["type"] == "value_error":
        return _stated_problem(key, error["msg"].removeprefix("Value error, "))
    return Problem(key, reason(error), fix(error))


def _stated_problem(key: str, message: str) -> Problem:
    """A validator's own message, its fix ("; fix: ..." or "(fix: ...)") moved to the fix."""
    stated, has_fix, fixed = message.partition("; fix: ")
    if has_fix:
        return Problem(key, stated, fixed)
    stated, has_fix, fixed = message.rpartition(" (fix: ")
    if has_fix and fixed.endswith(")"):
        return Problem(key, stated, fixed.removesuffix(")"))
    return Problem(key, message, "correct the value")
