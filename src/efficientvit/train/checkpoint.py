"""Training checkpoints: written atomically, read without unpickling code (``weights_only=True``).

A checkpoint is first written to a temporary file beside its destination, flushed to disk, and then renamed
over it (``os.replace`` is atomic on POSIX and Windows). A process killed while saving leaves the previous
checkpoint untouched; the stray temporary file is removed by the next save.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch

from efficientvit.atomic import atomic_write, temporary_names
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.files import regular_file

__all__ = ["atomic_save", "capture_rng_state", "load_checkpoint", "restore_rng_state"]

FORMAT = "efficientvit-train"


def atomic_save(obj: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` to ``path`` so that ``path`` is always either the old or the new complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(temporary_names(path)):  # left by a killed process
        stale.unlink(missing_ok=True)
    try:
        with atomic_write(path) as file:
            torch.save(obj, file)
    except OSError as err:  # a full disk, a read-only file system: the previous checkpoint is intact
        raise EfficientViTError(
            f"cannot write the checkpoint {path} ({err.strerror or one_line(err)}); the previous one is "
            "intact: free space (or fix the folder) and continue with --resume"
        ) from None
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A training checkpoint written by :func:`atomic_save`, with a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise EfficientViTError(f"{path}: no checkpoint there; a run directory holds last.pt and best.pt")
    regular_file(path, "training checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise EfficientViTError(
            f"{path}: not a readable training checkpoint ({type(err).__name__}); it may be truncated"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise EfficientViTError(f"{path}: not an efficientvit training checkpoint")
    return state


def capture_rng_state() -> dict[str, Any]:
    """The RNG states that model-side randomness (dropout, MixUp/CutMix) draws from."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, _, gauss = random.getstate()
    random.setstate((version, tuple(state["python"]), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
