"""Input paths from users: a regular file is read; anything else is refused in one line, before any read.

A character device (``/dev/zero``) never ends, a named pipe blocks until a writer comes, and a process
substitution (``<(cat ckpt.pt)``) cannot be read twice: none of them is a file a model, a checkpoint or an
image can be read from safely, so each is named for what it is, within a ``stat`` call.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from efficientvit.errors import EfficientViTError

__all__ = ["not_regular_message", "regular_file", "special_kind"]

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is if it exists and is neither a regular file nor a directory (``"a named pipe"``,
    ``"a character device"``, ...), following symlinks; ``None`` otherwise. Costs one ``stat`` call."""
    try:
        mode = os.stat(os.fspath(path)).st_mode
    except (OSError, ValueError):  # missing, unreadable, or not a path at all (a NUL byte)
        return None
    return next((kind for test, kind in _KINDS if test(mode)), None)


def not_regular_message(path: str | os.PathLike[str], kind: str, what: str) -> str:
    """The one line refusing ``path``, which is ``kind`` (from :func:`special_kind`), as a ``what``."""
    return f"{os.fspath(path)}: is {kind}, not a regular file; write the {what} to a file and pass its path"


def regular_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` if it names a regular file (following symlinks); otherwise one line saying what it is.

    ``what`` names the expected content in the message, e.g. ``"checkpoint file"`` or ``"image file"``.
    """
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise EfficientViTError(f"{name}: no such file") from None
    except PermissionError:
        raise EfficientViTError(f"{name}: permission denied; check the file's read permissions") from None
    except OSError as err:
        raise EfficientViTError(f"{name}: cannot be read ({err.strerror or err})") from None
    if stat.S_ISDIR(mode):
        raise EfficientViTError(f"{name}: is a directory, not a {what}")
    for test, kind in _KINDS:
        if test(mode):
            raise EfficientViTError(not_regular_message(name, kind, what))
    return Path(name)
