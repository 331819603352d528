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
    single spaces; an exception with no message gives its type's name. An error that a DataLoader worker
    raised gives its own message, without the worker's traceback that PyTorch puts in front of it."""
    message = _without_worker_traceback(text) if isinstance(text, BaseException) else str(text)
    collapsed = " ".join(message.split())
    if not collapsed and isinstance(text, BaseException):
        return type(text).__name__
    return collapsed


def _without_worker_traceback(error: BaseException) -> str:
    """The message of ``error`` as raised in a DataLoader worker process, where PyTorch re-raises it in the
    main process as ``Caught <Type> in DataLoader worker process N. Original Traceback ... <module>.<Type>:
    <message>``; any other error's message unchanged."""
    message = str(error)
    kind = type(error)
    if not message.startswith(f"Caught {kind.__name__} in DataLoader worker process"):
        return message
    qualified = (
        kind.__qualname__
        if kind.__module__ in ("builtins", "__main__")
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    _, found, original = message.rpartition(f"\n{qualified}: ")
    return original if found else message
