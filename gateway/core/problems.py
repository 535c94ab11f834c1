"""A configuration problem: where it is, what is wrong, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    message: str
    fix: str

    def render(self, source: str) -> str:
        return f"{source}: {self.key}: {self.message} (fix: {self.fix})"
