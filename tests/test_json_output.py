"""JSON written for users is strict: undefined numbers are null, never NaN or Infinity."""

from __future__ import annotations

import json
import math

from efficientvit import json_output


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    value = {"mIoU": math.nan, "per_class": [1.5, math.inf, (-math.inf, 2)], "name": "x", "n": 3}
    assert json_output.strict(value) == {
        "mIoU": None,
        "per_class": [1.5, None, [None, 2]],
        "name": "x",
        "n": 3,
    }


def test_dumps_is_parsed_by_a_strict_parser() -> None:
    def reject(constant: str) -> None:
        raise ValueError(constant)

    text = json_output.dumps({"loss": math.nan, "top1": 12.5})
    assert json.loads(text, parse_constant=reject) == {"loss": None, "top1": 12.5}
    assert "NaN" in json.dumps({"loss": math.nan})  # what the standard library would have written
