"""A terminal progress bar on stderr; plain lines (every 10 %) when stderr is not a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str = "", stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._started = time.monotonic()
        self._last_decile = -1

    def update(self, step: int = 1, detail: str = "") -> None:
        self.done = min(self.total, self.done + step)
        share = self.done / self.total
        elapsed = time.monotonic() - self._started
        if self.tty:
            width = 30
            filled = int(width * share)
            bar = "█" * filled + "·" * (width - filled)
            self.stream.write(
                f"\r{self.label} [{bar}] {share:4.0%} {self.done}/{self.total} "
                f"{elapsed:5.1f}s {detail[:30]:<30}"
            )
            self.stream.flush()
            return
        decile = int(share * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(
                f"{self.label}: {share:.0%} ({self.done}/{self.total}, {elapsed:.1f} s) {detail}\n"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
