"""The `coldchain` command's first step: a stop asked while the rest is imported exits 0.

Importing the command line, the settings' models and their libraries takes up to a second on a
Pi; systemd stopping a gateway in that time would otherwise end it by the signal (status 143,
logged as a failure). So the SIGTERM handling comes first, before any other import. The handler
only notes the stop: raising from a signal handler at an arbitrary point (inside an import, a
lock, or the event loop before the gateway listens) can leave the process unable to finish
(seen as a stop that hung at one moment in ten rounds). The command line acts on the note where
it is safe to (`gateway.cli.stop_while_starting`, `stop_asked` once the gateway listens for the
signal itself). Only the standard library's `signal` is imported here.
"""

import signal

_stops: list[int] = []


def note_stop_while_starting(signum: int, frame: object) -> None:
    """SIGTERM before the gateway listens for it: noted, acted on at the next safe point."""
    _stops.append(signum)


def stop_asked() -> bool:
    """Whether a SIGTERM came before the gateway listened for it."""
    return bool(_stops)


def main() -> int:
    signal.signal(signal.SIGTERM, note_stop_while_starting)
    from gateway.cli import main as command

    return command()
