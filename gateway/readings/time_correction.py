"""Which shift corrects a time stamped while the wall clock was not synchronised. Pure.

A Pi has no real-time clock: it boots with the wall time fake-hwclock saved (or 1970) and NTP
steps it later, possibly hours later. The monotonic clock never jumps, so the offset
`wall - monotonic` stays constant except when the wall clock is stepped (slewing moves it by
milliseconds). `OffsetTimeline` records that offset at every check of one unsynchronised
period as segments of constant offset; once the clock is synchronised (the last segment), a
row stamped `wall` under a segment of offset `o` was really taken at `wall + (o_synced - o)`.

Which segment a row was stamped under follows from the stamp itself: under offset `o` it was
taken at monotonic `wall - o`, which must lie in the span the segment was seen in (from the
check before its first sighting to the check after its last). A row that fits no segment, or
more than one (a step shorter than the time between two checks), is ambiguous: it gets no
shift and stays flagged. Rows stamped after the step but before the check that saw it fit the
synchronised segment and get a zero shift: their time was already right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

#: A change of `wall - monotonic` beyond this between two checks is a step of the wall clock;
#: below it, slewing. Also the tolerance when fitting a row into a segment's span.
STEP_S = 1.0


def offset_of(wall: datetime, monotonic: float) -> float:
    """`wall - monotonic` in seconds."""
    return wall.timestamp() - monotonic


@dataclass(slots=True)
class Segment:
    """Checks that saw the same offset (within `STEP_S`): the offset, and the monotonic span
    in which rows may have been stamped under it."""

    offset: float
    earliest: float
    first_seen: float
    last_seen: float
    latest: float = math.inf


class OffsetTimeline:
    """The offsets seen during one unsynchronised period, started at monotonic `start`."""

    def __init__(self, start: float, offset: float) -> None:
        self.segments = [Segment(offset, start, start, start)]

    def observe(self, monotonic: float, offset: float) -> None:
        """Record the offset seen at a check (monotonic times only grow)."""
        current = self.segments[-1]
        if abs(offset - current.offset) <= STEP_S:
            current.offset = offset
            current.last_seen = monotonic
            return
        current.latest = monotonic
        self.segments.append(Segment(offset, current.last_seen, monotonic, monotonic))

    def end(self, monotonic: float) -> None:
        """Close the last segment at the check that saw synchronisation: flagged rows were
        all stamped before it."""
        self.segments[-1].latest = monotonic

    @property
    def offset(self) -> float:
        """The offset at the latest check."""
        return self.segments[-1].offset

    @property
    def steps(self) -> int:
        return len(self.segments) - 1

    def shift_for(self, wall: datetime) -> timedelta | None:
        """How far to move a row stamped `wall` during the period to put it at the latest
        check's time scale; None when the stamp fits no segment or several."""
        stamp = wall.timestamp()
        fits = [
            segment
            for segment in self.segments
            if segment.earliest - STEP_S <= stamp - segment.offset <= segment.latest + STEP_S
        ]
        if len(fits) != 1:
            return None
        return timedelta(seconds=self.offset - fits[0].offset)
