"""Pieces every on-disk dataset shares: reading images and label masks, layout checks, bad-file handling.

Every error is an :class:`~efficientvit.errors.EfficientViTError` whose one-line message starts with the
offending path. Datasets built on :class:`FileDataset` either raise it (``on_error="raise"``) or warn once per
bad file and return the next sample that loads (``on_error="skip"``).
"""

from __future__ import annotations

import os
import struct
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import tv_tensors

from efficientvit.data.images import IMAGE_EXTENSIONS, read_image
from efficientvit.data.labels import IGNORE_INDEX
from efficientvit.errors import EfficientViTError, one_line

__all__ = [
    "IGNORE_INDEX",
    "FileDataset",
    "OnError",
    "check_on_error",
    "check_same_size",
    "drop_missing",
    "find_images",
    "load_image",
    "read_mask",
    "require_dir",
]

OnError = Literal["raise", "skip"]


_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
# Single-channel integer modes a label PNG/TIFF may use (8-bit, palette indices, 16-bit, 32-bit).
_MASK_MODES = frozenset({"L", "P", "I", "I;16", "I;16L", "I;16B", "I;16N"})


def check_on_error(on_error: str) -> OnError:
    """``on_error`` itself if it is ``"raise"`` or ``"skip"``; otherwise a ``ValueError``."""
    if on_error not in get_args(OnError):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error  # type: ignore[return-value]


def load_image(path: str | os.PathLike[str]) -> tv_tensors.Image:
    """Read an image file (any mode) as a uint8 RGB ``tv_tensors.Image`` of shape (3, H, W)."""
    return tv_tensors.Image(read_image(path))


def read_mask(path: str | os.PathLike[str]) -> tv_tensors.Mask:
    """Read a label image as an int64 ``tv_tensors.Mask`` of shape (H, W), pixel values unchanged.

    Single-channel PNG/TIFF modes are read as stored: ``L`` (8-bit), ``P`` (palette *indices*, not colours),
    ``I`` / ``I;16`` (16/32-bit). An RGB(A) image whose three channels are equal (a grey mask saved as colour)
    is accepted; a genuinely coloured mask is an error, since colours are not class indices.
    """
    name = os.fspath(path)
    p = Path(name)
    if not p.is_file():
        raise EfficientViTError(f"{name}: no such mask file")
    try:
        with Image.open(p) as img:
            img.load()
            mode = img.mode
            if mode in ("LA", "PA"):
                arr = np.asarray(img)[:, :, 0]  # the label (or palette index) channel; alpha dropped
            elif mode in _MASK_MODES:
                arr = np.asarray(img)
            elif mode in ("RGB", "RGBA"):
                rgb = np.asarray(img)[:, :, :3]
                if not (
                    np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
                ):
                    raise EfficientViTError(
                        f"{name}: mask is a colour ({mode}) image; label masks must be single-channel "
                        "(L, P or I mode PNG) with one class index per pixel"
                    )
                arr = rgb[:, :, 0]
            else:
                raise EfficientViTError(
                    f"{name}: unsupported mask mode {mode!r}; save labels as a single-channel PNG (L, P or I)"
                )
    except EfficientViTError:
        raise
    except UnidentifiedImageError as exc:
        raise EfficientViTError(
            f"{name}: not an image file Pillow can read (expected a PNG label mask)"
        ) from exc
    except PermissionError as exc:
        raise EfficientViTError(f"{name}: permission denied; check the file's read permissions") from exc
    except _DECODE_ERRORS as exc:
        raise EfficientViTError(
            f"{name}: mask data is truncated or corrupt ({one_line(exc)}); re-download or re-export it"
        ) from exc
    return tv_tensors.Mask(torch.from_numpy(arr.astype(np.int64)))  # (H, W)


def check_same_size(
    image: torch.Tensor,
    mask: torch.Tensor,
    image_path: str | os.PathLike[str],
    mask_path: str | os.PathLike[str],
) -> None:
    """Raise if the (..., H, W) ``image`` and ``mask`` differ in size, naming both files and both sizes."""
    ih, iw = image.shape[-2:]
    mh, mw = mask.shape[-2:]
    if (ih, iw) != (mh, mw):
        raise EfficientViTError(
            f"{os.fspath(mask_path)}: mask is {mh}x{mw} (HxW) but its image {os.fspath(image_path)} is "
            f"{ih}x{iw}; masks must have exactly the size of their images"
        )


def require_dir(path: Path, what: str, expected: str) -> Path:
    """``path`` if it is a directory; otherwise an error that names it and the layout ``expected``."""
    if not path.is_dir():
        problem = "does not exist" if not path.exists() else "is not a directory"
        raise EfficientViTError(f"{path}: {problem}, so this is not {what}; expected {expected}")
    return path


def find_images(directory: Path, *, recursive: bool = False) -> list[Path]:
    """Image files (extensions in ``IMAGE_EXTENSIONS``, case-insensitive) under ``directory``, sorted.

    Hidden files and folders (``.*``, e.g. macOS ``._*`` resource forks) are skipped.
    """
    candidates: Iterable[Path] = directory.rglob("*") if recursive else directory.iterdir()
    found = [
        p
        for p in candidates
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and p.is_file()
    ]
    return sorted(found)


class FileDataset(Dataset, ABC):
    """A map-style dataset whose samples are read from files, with ``on_error`` handling.

    Subclasses fill ``samples`` (one entry per item), set ``classes`` if they label classes, and implement
    :meth:`load`. With ``on_error="raise"`` an
    :class:`EfficientViTError` from :meth:`load` propagates; with ``"skip"`` it is turned into one
    ``UserWarning`` per bad sample (naming the file) and the next index (modulo the length) is tried.
    """

    classes: Sequence[str] = ()
    """Class names in label order (empty for datasets without classes)."""

    def __init__(self, on_error: OnError) -> None:
        self.on_error = check_on_error(on_error)
        self._warned: set[int] = set()
        self.samples: Sequence[Any] = []

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    @abstractmethod
    def load(self, index: int) -> Any:
        """Sample ``index`` (0 <= index < len), transformed; raises ``EfficientViTError`` for a bad file."""

    def __getitem__(self, index: int) -> Any:
        length = len(self)
        if not -length <= index < length:
            raise IndexError(f"index {index} out of range for a dataset of {length} samples")
        index %= length
        if self.on_error == "raise":
            return self.load(index)
        for offset in range(length):
            current = (index + offset) % length
            try:
                return self.load(current)
            except EfficientViTError as exc:
                if current not in self._warned:
                    self._warned.add(current)
                    warnings.warn(f"skipping a bad sample: {exc}", UserWarning, stacklevel=2)
        raise EfficientViTError(
            f"all {length} samples of this {type(self).__name__} failed to load; the warnings name each file"
        )


def drop_missing(pairs: list[tuple[Path, Path]], on_error: OnError, what: str) -> list[tuple[Path, Path]]:
    """The (image, label) pairs whose label file exists; raise (or warn, for ``"skip"``) about the rest."""
    kept = []
    for image_path, label_path in pairs:
        if label_path.is_file():
            kept.append((image_path, label_path))
            continue
        message = f"{label_path}: no {what} for image {image_path}"
        if on_error == "raise":
            raise EfficientViTError(f"{message}; add it, or pass on_error='skip' to leave the image out")
        warnings.warn(f"skipping a bad sample: {message}", UserWarning, stacklevel=3)
    return kept
