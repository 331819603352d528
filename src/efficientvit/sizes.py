"""Image sizes written as text: ``"1024x2048"``, or ``"512"`` for a square, as options spell them."""

from __future__ import annotations

__all__ = ["parse_pair"]


def parse_pair(text: str, *, square: bool = True) -> tuple[int, int]:
    """``"AxB"`` as the two positive integers in the order written (``"512"`` is ``(512, 512)`` when
    ``square``); ``ValueError`` otherwise. Callers say which is the height and which the width."""
    parts = text.strip().lower().split("x")
    if len(parts) not in ((1, 2) if square else (2,)):
        raise ValueError(f"{text!r} is not a size AxB")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"{text!r} is not a size AxB of integers") from None
    if min(values) < 1:
        raise ValueError(f"{text!r} has a side < 1")
    return values[0], values[-1]
