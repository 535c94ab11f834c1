"""The `coldchain` command's first step: a stop asked while the rest is imported exits 0.

Importing the command line, the settings' models and their libraries takes up to a second on a
Pi; systemd stopping a gateway in that time would otherwise end it by the signal (status 143,
logged as a failure). So the SIGTERM handling comes first, before any other import; the
command line keeps it until the gateway listens for the signal itself
(`gateway.cli.stop_while_starting`). Only the standard library's `signal` is imported here.
"""

import signal


def exit_while_starting(signum: int, frame: object) -> None:
    """SIGTERM before the gateway listens for it: nothing was measured yet; unwind and exit 0
    (whatever was opened so far closes on the way out)."""
    raise SystemExit(0)


def main() -> int:
    signal.signal(signal.SIGTERM, exit_while_starting)
    from gateway.cli import main as command

    return command()
