"""Files written for a user: always either the old complete file or the new complete file.

:func:`atomic_write` is the one way the package writes an output file (PNG, image, JSON, checkpoint): a new
temporary file in the destination's folder, created exclusively (so a planted symlink or an existing file is
never written through), flushed and synced, then renamed over the destination. A rename replaces a symlink
at the destination itself, never the file it points to. A failure, a full disk, or an exception from the
writer leaves the destination as it was, with no temporary file left behind.

A destination that is a named pipe or a character device (``/dev/null``, ``/dev/stdout``, a terminal) is a
stream, not a file to replace: it is written directly (replacing it would put a regular file in place of the
device). A block device, a socket or a directory is refused in one line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from efficientvit.errors import EfficientViTError
from efficientvit.files import special_kind

__all__ = ["atomic_write", "atomic_write_text", "temporary_names"]

FILE_MODE = 0o644
"""Permissions of a written file (the temporary file starts owner-only)."""


def temporary_names(path: Path) -> str:
    """The glob pattern of the temporary files :func:`atomic_write` makes for ``path``."""
    return f".{path.name}.*.tmp"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; ``path`` is replaced when the block ends."""
    path = Path(path)
    kind = special_kind(path)
    if kind in ("a named pipe", "a character device"):
        with open(path, "wb") as stream:
            yield stream
        return
    if kind is not None or path.is_dir():
        raise EfficientViTError(f"{path}: is {kind or 'a directory'}, not a file to write; give a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), FILE_MODE)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with :func:`atomic_write`; returns the path."""
    with atomic_write(path) as file:
        file.write(text.encode("utf-8"))
    return Path(path)
