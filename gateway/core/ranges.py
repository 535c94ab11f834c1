"""Ranges in the configuration: a low bound above its high bound is refused with the fix."""

from __future__ import annotations


def check_ordered(model: object, low: str, high: str, *, strict: bool = False) -> None:
    """Raise ValueError naming both keys when `model.low` is above `model.high` (or equal,
    when `strict`); a bound left unset (None) passes."""
    low_value, high_value = getattr(model, low), getattr(model, high)
    if low_value is None or high_value is None:
        return
    if low_value < high_value or (low_value == high_value and not strict):
        return
    relation = "below" if strict else "at or below"
    raise ValueError(
        f"{low} ({low_value:g}) must be {relation} {high} ({high_value:g}) (fix: correct "
        f"the one that is wrong, or swap them)"
    )
