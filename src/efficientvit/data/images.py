"""Robust image reading and writing for inference.

Every failure raises :class:`~efficientvit.errors.EfficientViTError` with a one-line message that starts with
the offending path, so the CLI can print it as is.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from efficientvit.atomic import atomic_write
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.files import regular_file

__all__ = ["IMAGE_EXTENSIONS", "list_images", "open_image_file", "read_image", "save_png"]

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

# Single-channel modes with more than 8 bits per pixel; Pillow's own convert("L") clips these at 255.
_HIGH_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
# Errors Pillow's decoders raise for damaged data (struct.error comes from malformed EXIF/TIFF headers).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


def _high_bit_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale a single-channel 16/32-bit integer or float array to uint8.

    Integers in 0..65535 are treated as 16-bit and mapped with ``round(v / 257)`` (65535 -> 255); floats in
    [0, 1] are multiplied by 255 and floats in [0, 255] kept; anything else is min-max rescaled to 0..255.
    """
    if mode == "F":
        values = arr.astype(np.float64)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        values = np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo)
        if lo >= 0.0 and hi <= 1.0:
            values = values * 255.0
        elif not (lo >= 0.0 and hi <= 255.0):
            values = (values - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(values)
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    values = arr.astype(np.int64)
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi <= 65535:
        return ((values + 128) // 257).astype(np.uint8)
    scaled = (values - lo) * 255.0 / (hi - lo) if hi > lo else np.zeros(values.shape)
    return np.rint(scaled).astype(np.uint8)


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to an (H, W, 3) uint8 array."""
    if img.mode in _HIGH_BIT_MODES:
        gray = _high_bit_to_uint8(np.asarray(img), img.mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")  # resolves palette transparency without Pillow's warning
    if img.mode != "RGB":
        img = img.convert("RGB")  # drops alpha, replicates grey, converts CMYK/YCbCr/LAB/...
    return np.asarray(img)


@contextmanager
def open_image_file(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """``PIL.Image.open(path)`` as a context manager whose failures, there or in the ``with`` body, become
    one-line :class:`EfficientViTError` messages that start with the path."""
    name = os.fspath(path)
    p = regular_file(name, "image file")
    if p.stat().st_size == 0:
        raise EfficientViTError(f"{name}: file is empty (0 bytes), not an image")
    try:
        with Image.open(p) as img:
            yield img
    except EfficientViTError:
        raise
    except UnidentifiedImageError as exc:
        raise EfficientViTError(
            f"{name}: not an image file Pillow can read (expected e.g. JPEG, PNG, BMP, WebP or TIFF)"
        ) from exc
    except PermissionError as exc:
        raise EfficientViTError(f"{name}: permission denied; check the file's read permissions") from exc
    except Image.DecompressionBombError as exc:
        raise EfficientViTError(f"{name}: image is too large to decode safely ({one_line(exc)})") from exc
    except _DECODE_ERRORS as exc:
        raise EfficientViTError(
            f"{name}: image data is truncated or corrupt ({one_line(exc)}); re-download or re-export it"
        ) from exc


def read_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read an image file as a uint8 RGB tensor of shape (3, H, W).

    The EXIF orientation is applied. Alpha is dropped, not composited (transparent pixels keep their stored
    colour); grey and palette images become RGB; CMYK is converted; 16-bit images are scaled to 8 bit (not
    clipped); 32-bit float images are scaled from [0, 1] (or min-max rescaled if outside [0, 255]). For
    multi-frame files (GIF, animated WebP, multi-page TIFF) the first frame is used.
    """
    with open_image_file(path) as img:
        img.load()
        oriented = ImageOps.exif_transpose(img)
        try:
            arr = _to_rgb_array(oriented)
        except ValueError as exc:
            raise EfficientViTError(
                f"{os.fspath(path)}: unsupported image mode {oriented.mode!r} ({one_line(exc)}); "
                "convert it to RGB first"
            ) from exc
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


def list_images(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and directories into a list of image files, in the order given.

    A directory contributes its image files (non-recursive, sorted by name, extensions in
    :data:`IMAGE_EXTENSIONS`, case-insensitive; hidden files such as macOS ``._*`` are skipped). A file is
    kept whatever its extension, so :func:`read_image` reports if it is not an image.
    """
    result: list[Path] = []
    for entry in paths:
        p = Path(entry)
        if not p.exists():
            raise EfficientViTError(f"{os.fspath(entry)}: no such file or directory")
        if not p.is_dir():
            result.append(p)
            continue
        found = sorted(
            child
            for child in p.iterdir()
            if child.suffix.lower() in IMAGE_EXTENSIONS and not child.name.startswith(".") and child.is_file()
        )
        if not found:
            exts = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise EfficientViTError(f"{os.fspath(entry)}: directory contains no image files ({exts})")
        result.extend(found)
    return result


def save_png(image: torch.Tensor, path: str | os.PathLike[str]) -> Path:
    """Save a uint8 tensor of shape (3, H, W), (1, H, W) or (H, W) as a PNG, creating parent directories."""
    if image.dtype != torch.uint8:
        raise ValueError(f"save_png expects a uint8 tensor, got {image.dtype}")
    if image.ndim == 3 and image.shape[0] in (1, 3):
        arr = image.detach().cpu().permute(1, 2, 0).numpy()
        arr = arr[:, :, 0] if arr.shape[2] == 1 else arr
    elif image.ndim == 2:
        arr = image.detach().cpu().numpy()
    else:
        raise ValueError(f"save_png expects shape (3, H, W), (1, H, W) or (H, W), got {tuple(image.shape)}")
    p = Path(path)
    try:
        with atomic_write(p) as file:  # never a half-written PNG in place of a good one
            Image.fromarray(np.ascontiguousarray(arr)).save(file, format="PNG")
    except OSError as exc:
        reason = exc.strerror or one_line(exc)
        raise EfficientViTError(f"{os.fspath(path)}: cannot write PNG ({reason})") from exc
    return p
