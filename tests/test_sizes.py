"""Sizes written as text."""

from __future__ import annotations

import pytest

from efficientvit.sizes import parse_pair


def test_pairs_and_squares_in_the_order_written() -> None:
    assert parse_pair("1024x2048") == (1024, 2048)
    assert parse_pair(" 4000X3000 ") == (4000, 3000)
    assert parse_pair("512") == (512, 512)


@pytest.mark.parametrize("text", ["", "x", "1x2x3", "axb", "0x5", "-1", "2.5x3"])
def test_anything_else_is_a_value_error_quoting_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("\\", "\\\\").replace(".", r"\.")):
        parse_pair(text)


def test_a_square_can_be_refused() -> None:
    with pytest.raises(ValueError, match="is not a size AxB"):
        parse_pair("512", square=False)
