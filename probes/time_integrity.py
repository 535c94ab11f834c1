"""Time integrity on a gateway without a real-time clock.

A Raspberry Pi boots with its wall clock wherever fake-hwclock left it (or 1970) and only
learns the true time from NTP, possibly hours later. Readings and scans taken meanwhile are
stamped with the wrong wall time and flagged `clock_synced=False` here; once the clock
synchronises, `gateway.readings.clock_sync` corrects the stored rows from the offset
wall - monotonic seen at each check. `kernel_clock_synced` is the one function that asks the system.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from probes.reading import Reading

#: systemd-timesyncd touches this file once the clock is synchronised (systemd >= 239).
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


def flag_unsynced(
    emit: Callable[[Reading], Awaitable[None]], synced: Callable[[], bool]
) -> Callable[[Reading], Awaitable[None]]:
    """Wrap a driver's `emit` so readings taken while the clock is unsynchronised carry
    `clock_synced=False`: one place for every driver (Modbus, BLE, serial)."""

    async def wrapped(reading: Reading) -> None:
        if reading.clock_synced and not synced():
            reading = replace(reading, clock_synced=False)
        await emit(reading)

    return wrapped


def kernel_clock_synced(flag: Path = TIMESYNC_FLAG) -> bool:
    """Whether the system clock is synchronised: systemd-timesyncd's flag file, else the
    kernel's NTP status through `adjtimex` (STA_UNSYNC clear)."""
    if flag.exists():
        return True
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        buffer = ctypes.create_string_buffer(256)  # struct timex, zeroed: modes = 0 reads
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return False
    time_error = 5  # TIME_ERROR: clock not synchronised
    return state >= 0 and state != time_error and os.name == "posix"
