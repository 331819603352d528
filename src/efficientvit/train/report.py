"""Plain-text tables of evaluation metrics, as the CLI prints them; each task lays out its own
(``Task.summary_table`` in :mod:`efficientvit.tasks`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from efficientvit.tasks.registry import get_task

__all__ = ["format_metrics", "number", "table"]


def table(rows: Sequence[Sequence[str]]) -> str:
    """``rows`` (the first is the header) as aligned columns: the first left-aligned, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; ``"n/a"`` for a missing or NaN value."""
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )


def format_metrics(task: str, metrics: dict[str, Any], class_names: Sequence[str] = ()) -> str:
    """A table of ``metrics`` as returned by evaluation for the task named ``task``."""
    summary = get_task(task).summary_table
    if summary is None:
        raise ValueError(f"the {get_task(task).title} task is not evaluated here")
    return summary(metrics, class_names)
