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
from collections.abc import Iterable, Sequence

from gateway.forward.tags import Identity, ProbeTags
from gateway.storage.readings import StoredReading, StoredRows, to_millis
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


def _number(value: float) -> str:
    return repr(float(value))


#: `status=<code>i` by the store's status code (the same codes: `STATUS_CODES`).
_STATUS_FIELD = {code: f"status={code}i" for code in STATUS_CODES.values()}


class LineEncoder:
    """Encodes readings of one gateway; the series key of each probe is built once."""

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
                        ("unit", identity.unit),
                        ("region", identity.region),
                        ("gateway", identity.gateway),
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
        fields = []
        if reading.temperature is not None:
            fields.append(f"temperature={_number(reading.temperature)}")
        if reading.humidity is not None:
            fields.append(f"humidity={_number(reading.humidity)}")
        if reading.battery is not None:
            fields.append(f"battery={_number(reading.battery)}")
        fields.append(f"status={STATUS_CODES[reading.status]}i")
        if not reading.clock_synced:
            fields.append("clock_synced=0i")
        return f"{self.prefix(reading.probe)}{','.join(fields)} {to_millis(reading.taken_at)}"

    def encode(self, batch: Sequence[StoredReading]) -> bytes:
        """The batch as one request body: lines joined by newlines, UTF-8."""
        if isinstance(batch, StoredRows):
            return self._encode_rows(batch)
        line = self.line
        return "\n".join([line(item) for item in batch]).encode()

    def _encode_rows(self, rows: StoredRows) -> bytes:
        """`encode` straight from the store's rows: the same lines as `line` writes, for a
        backlog of hundreds of thousands (see bench/forward_drain.py)."""
        prefixes: dict[int, str] = {}
        lines: list[str] = []
        append = lines.append
        status_field = _STATUS_FIELD
        for _seq, probe_id, millis, status, temperature, humidity, battery, synced, _ in rows.raw:
            prefix = prefixes.get(probe_id)
            if prefix is None:
                prefix = prefixes[probe_id] = self.prefix(rows.code_of(probe_id))
            fields = status_field[status] if synced else status_field[status] + ",clock_synced=0i"
            if battery is not None:
                fields = f"battery={float(battery)!r},{fields}"
            if humidity is not None:
                fields = f"humidity={float(humidity)!r},{fields}"
            if temperature is not None:
                fields = f"temperature={float(temperature)!r},{fields}"
            append(f"{prefix}{fields} {millis}")
        return "\n".join(lines).encode()
