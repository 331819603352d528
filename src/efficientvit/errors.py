"""Exceptions shared across the package."""

from __future__ import annotations


class EfficientViTError(Exception):
    """A user-facing error: the message names the problem and the fix; the CLI prints it as one line with no
    traceback."""


class NoImageError(EfficientViTError, RuntimeError):
    """A predictor was asked for masks before an image was set; a ``RuntimeError`` as in segment-anything."""


class ConcurrentUseError(EfficientViTError, RuntimeError):
    """One predictor was used from two threads so that one would get masks of the other's image."""


def one_line(text: object) -> str:
    """``text`` (an exception or any object) with all runs of whitespace, newlines included, collapsed to
    single spaces; an exception with no message gives its type's name."""
    collapsed = " ".join(str(text).split())
    if not collapsed and isinstance(text, BaseException):
        return type(text).__name__
    return collapsed
