"""JSON written for users (``metrics.jsonl``, ``eval.json``, ``--json`` output): strict JSON, always.

Python's ``json`` writes ``NaN`` and ``Infinity``, which strict parsers (JavaScript's ``JSON.parse``, ``jq``,
Go, Rust's serde) reject. A non-finite number here means "undefined" (the IoU of a class that never occurs,
the loss of an epoch that trained nothing), so it is written as ``null``.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "strict"]


def strict(value: Any) -> Any:
    """``value`` with each non-finite float, at any depth of dicts, lists and tuples, replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` of :func:`strict` ``(value)``; it can never contain ``NaN`` or ``Infinity``."""
    return json.dumps(strict(value), allow_nan=False, **options)
