"""A process's own peak resident memory, for benches that run a report in a child process.

`ru_maxrss` will not do there: a child started by fork (subprocess) keeps its parent's peak
across exec, so a small report under a large bench shows the bench's size. `VmHWM` is the peak
of the process's own memory since its exec.
"""

from __future__ import annotations

from pathlib import Path


def peak_rss_kb() -> int:
    """This process's peak resident memory since its exec, in KiB (Linux: VmHWM)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")
