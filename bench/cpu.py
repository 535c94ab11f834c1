"""CPU seconds, printed by the benchmarks beside their wall times: on a shared machine the walls
grow with others' load, the CPU seconds much less. User + system, of this process (every
thread) or of another one."""

from __future__ import annotations

import resource

import psutil


def own_cpu_s() -> float:
    """CPU seconds of this process so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_s(process: psutil.Process) -> float:
    """CPU seconds of `process` so far (its children not included)."""
    times = process.cpu_times()
    return float(times.user + times.system)
