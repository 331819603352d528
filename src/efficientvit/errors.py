"""Exceptions shared across the package."""

from __future__ import annotations


class EfficientViTError(Exception):
    """A user-facing error: the message names the problem and the fix; the CLI prints it as one line with no
    traceback."""
