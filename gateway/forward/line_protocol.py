"""StoredReading -> InfluxDB line protocol. Pure: no I/O, no clock.

Schema (one point per reading; documented in the README)::

    coldchain,compartment=<name>,fridge=<code>,gateway=<number>,kind=<refrigerated|frozen>,
              probe=<code>,region=<region code>,unit=<unit code> temperature=<float>,
              humidity=<float>,battery=<float>,status=<int>i <acquisition time, ms since epoch>

- tags are sorted by key (InfluxDB's recommendation); a tag with no value is left out;
- `temperature` is present only for an ok reading; `humidity` and `battery` only when the probe
  measured them; `status` always, as an integer code (0 ok, 1 disconnected, 2 out_of_range,
  3 bus_error, 4 stale: `probes.reading.STATUS_CODES`). An integer, not a string, because
  VictoriaMetrics stores string fields as 0 and would lose the state;
- `clock_synced=0i` only on a reading stamped before the gateway's clock synchronised whose
  time could not be corrected (its time is unreliable); corrected readings carry no flag;
- the timestamp is the acquisition time in whole milliseconds (write with precision=ms), so a
  replay writes the same series and timestamp, which the server overwrites.

Escaping follows the InfluxDB line protocol reference: in tag keys and values a comma, equals
sign and space are escaped with a backslash (measurement names: comma and space); newline,
carriage return and tab become the two characters `\\n`, `\\r`, `\\t` (a line cannot hold a raw
newline). Non-ASCII text such as Chinese names is written as UTF-8, unescaped.
Backslashes: InfluxDB 1.x keeps `\\\\` as two backslashes, 2.x reads it as one, and both keep a
lone backslash before an ordinary character as it is. So a backslash is written as is, except
where the versions would disagree (at the end of a value, or before a space, comma, equals sign
or another backslash): there it becomes `/`. Tested against influxd 1.6 and VictoriaMetrics.
Non-finite floats (NaN, inf) cannot be written; a `Reading` never holds one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from gateway.forward.tags import Identity, ProbeTags
from gateway.storage.readings import StoredReading, StoredRows, row_flags, to_millis
from probes.reading import STATUS_CODES

_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_ESCAPE_TAG = str.maketrans(
    {",": r"\,", " ": r"\ ", "=": r"\=", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
)
#: A backslash whose meaning differs between InfluxDB versions (see the module docstring).
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?=[\\ ,=\n\r\t]|$)")


def escape_measurement(name: str) -> str:
    return _AMBIGUOUS_BACKSLASH.sub("/", name).translate(_ESCAPE_MEASUREMENT)


def escape_tag(text: str) -> str:
    """Escape a tag key or tag value."""
    return _AMBIGUOUS_BACKSLASH.sub("/", text).translate(_ESCAPE_TAG)


def series_key(measurement: str, tags: Iterable[tuple[str, str | None]]) -> str:
    """`measurement,k=v,...` with tags sorted by key and empty values left out."""
    parts = [escape_measurement(measurement)]
    parts += [f"{escape_tag(key)}={escape_tag(value)}" for key, value in sorted(tags) if value]
    return ",".join(parts)


def _field_text(name: str, value: float | None) -> str:
    """`<name>=<value>,` for a float field, '' for a value not measured: the value as Python's
    shortest repr, which reads back as the same float."""
    return "" if value is None else f"{name}={float(value)!r},"


class _FieldTexts(dict[float | None, str]):
    """`_field_text` of one field by value, for one batch of store rows: a batch of thousands of
    points repeats few distinct values, each formatted once. Zero is never kept: 0.0 and -0.0
    are one key but two texts."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        super().__init__({None: ""})
        self._name = name

    def __missing__(self, value: float) -> str:
        text = _field_text(self._name, value)
        if value:
            self[value] = text
        return text


#: The fields after the measured values by a `Row`'s flags (`row_flags`): the status code, and
#: `clock_synced=0i` for a time the gateway's unsynchronised clock gave and nothing corrected.
_STATUS_FIELDS = {
    row_flags(code, synced, corrected): f"status={code}i" + ("" if synced else ",clock_synced=0i")
    for code in STATUS_CODES.values()
    for synced in (False, True)
    for corrected in (False, True)
}


class _BatchPrefixes(dict[int, str]):
    """probe id -> series key prefix, filled on first use within one batch of store rows; as
    its UTF-8 bytes read as Latin-1 (see `LineEncoder._encode_rows`)."""

    __slots__ = ("_code_of", "_encoder")

    def __init__(self, encoder: LineEncoder, code_of: Callable[[int], str]) -> None:
        super().__init__()
        self._encoder = encoder
        self._code_of = code_of

    def __missing__(self, probe_id: int) -> str:
        prefix = self._encoder.prefix(self._code_of(probe_id)).encode().decode("latin-1")
        self[probe_id] = prefix
        return prefix


class LineEncoder:
    """Encodes readings of one gateway; the series key of each probe is built once. Every
    line, whether from a `StoredReading` or straight from the store's rows, is put together
    from the same pieces: `prefix`, `_field_text` and `_STATUS_FIELDS`."""

    def __init__(self, identity: Identity, measurement: str = "coldchain") -> None:
        self._identity = identity
        self._measurement = measurement
        self._prefixes: dict[tuple[str, ProbeTags], str] = {}

    def prefix(self, probe: str) -> str:
        """The series key of a probe followed by the space before the fields (the probe's
        placement of this moment: a reload may have moved it)."""
        identity = self._identity
        tags = identity.of(probe)
        key = (probe, tags)
        cached = self._prefixes.get(key)
        if cached is None:
            cached = (
                series_key(
                    self._measurement,
                    (
                        *identity.tags(),
                        ("fridge", tags.fridge),
                        ("compartment", tags.compartment),
                        ("kind", tags.kind),
                        ("probe", probe),
                    ),
                )
                + " "
            )
            self._prefixes[key] = cached
        return cached

    def line(self, item: StoredReading) -> str:
        reading = item.reading
        flags = row_flags(STATUS_CODES[reading.status], reading.clock_synced, item.time_corrected)
        return (
            f"{self.prefix(reading.probe)}{_field_text('temperature', reading.temperature)}"
            f"{_field_text('humidity', reading.humidity)}{_field_text('battery', reading.battery)}"
            f"{_STATUS_FIELDS[flags]} {to_millis(reading.taken_at)}"
        )

    def encode(self, batch: Sequence[StoredReading]) -> bytes:
        """The batch as one request body: lines joined by newlines, UTF-8."""
        if isinstance(batch, StoredRows):
            return self._encode_rows(batch)
        line = self.line
        return "\n".join([line(item) for item in batch]).encode()

    def _encode_rows(self, rows: StoredRows) -> bytes:
        """`encode` straight from the store's rows, no object made per point but the line: the
        same bytes as `line` writes, for a backlog of hundreds of thousands (see
        bench/forward_drain.py). Each distinct field value is formatted once a batch. Each
        prefix enters as its UTF-8 bytes read as Latin-1 (one character per byte), so every
        line stays a one-byte-per-character string even when a name is Chinese, and the Latin-1
        encoding of the whole body is those very bytes."""
        prefix = _BatchPrefixes(self, rows.code_of)
        temperature = _FieldTexts("temperature")
        humidity = _FieldTexts("humidity")
        battery = _FieldTexts("battery")
        status = _STATUS_FIELDS
        return "\n".join(
            [
                f"{prefix[probe_id]}{temperature[temp]}{humidity[hum]}{battery[bat]}"
                f"{status[flags]} {millis}"
                for _seq, probe_id, millis, temp, hum, bat, flags in rows.raw
            ]
        ).encode("latin-1")
