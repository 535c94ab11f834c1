"""systemd's notify protocol: READY=1, STATUS=, WATCHDOG=1 pings, RELOADING=1, STOPPING=1.

The protocol is one datagram of newline-separated `KEY=value` lines sent to the unix socket
named by $NOTIFY_SOCKET ('@' at its start means the abstract namespace); see sd_notify(3).
It is a dozen lines, so it is spoken here rather than through libsystemd (a C dependency).
Outside systemd (no $NOTIFY_SOCKET) every call does nothing.

The watchdog pings come from a task on the gateway's own event loop: if the loop hangs the
pings stop, and after `WatchdogSec` systemd kills and restarts the process.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

from gateway.core.clock import Clock
from gateway.core.closing import Closing

log = logging.getLogger(__name__)


class Notifier(Closing):
    """Sends notify datagrams to one socket; a `Notifier(None)` is silent."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._socket: socket.socket | None = None
        if address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        return cls(environ.get("NOTIFY_SOCKET") or None)

    def notify(self, **fields: str) -> bool:
        """Send `KEY=value` lines; False when not under systemd or the message was dropped
        (a full socket queue must never block the event loop)."""
        if self._socket is None or self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self._socket.sendto(message, target)
        except OSError as error:
            log.warning("systemd notify to %s failed: %s", self.address, error)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(READY="1", STATUS=status)

    def reloading(self, status: str) -> bool:
        return self.notify(RELOADING="1", STATUS=status)

    def stopping(self, status: str) -> bool:
        return self.notify(STOPPING="1", STATUS=status)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def ping_interval(environ: Mapping[str, str] = os.environ, pid: int | None = None) -> float | None:
    """Seconds between pings (half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises), or
    None when systemd watches no process or another one ($WATCHDOG_PID)."""
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    watched = environ.get("WATCHDOG_PID")
    if watched and int(watched) != (os.getpid() if pid is None else pid):
        return None
    value = int(usec)
    if value <= 0:
        return None
    return value / 2_000_000


async def run_watchdog(
    notifier: Notifier, clock: Clock, interval_s: float, status: Callable[[], str]
) -> None:
    """Ping every `interval_s` with a fresh STATUS line, until cancelled."""
    while True:
        notifier.notify(WATCHDOG="1", STATUS=status())
        await clock.sleep(interval_s)
