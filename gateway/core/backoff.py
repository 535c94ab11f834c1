"""Capped exponential backoff with jitter, for reconnects and retries."""

from __future__ import annotations

import random


class Backoff:
    """Delays of initial, 2x, 4x... capped at `maximum`, each drawn in [delay/2, delay].

    The jitter spreads the reconnects of many gateways after a shared outage (a county's
    server coming back) instead of letting them arrive in lockstep.
    """

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got {initial}, {maximum}")
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()
        self._attempts = 0

    @property
    def attempts(self) -> int:
        return self._attempts

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2 ** min(self._attempts, 32))
        self._attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempts = 0
