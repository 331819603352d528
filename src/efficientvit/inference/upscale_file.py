"""Super-resolution of image files that keeps the input's kind: grey stays grey, alpha and 16 bits survive.

=====================================  ===============  ===================================================
input mode (Pillow)                    output mode      how
=====================================  ===============  ===================================================
RGB, RGBX, CMYK, YCbCr, LAB, HSV, P    RGB              converted to RGB, upscaled by the model
L, 1                                   L                grey replicated to RGB, the mean of the output
RGBA, RGBa, PA, P/RGB + transparency   RGBA             colour by the model, alpha by Pillow bicubic
LA, La, L + transparency               LA               grey as for L, alpha by Pillow bicubic
I;16, I;16B, I (values 0..65535)       I;16             v / 65535 as float, replicated, the mean, 16 bit
F (32-bit float)                       refused
=====================================  ===============  ===================================================

The EXIF orientation is applied; an ICC profile is kept when the colours are not converted (not for CMYK,
YCbCr, LAB, HSV). Pillow opens 16-bit *RGB* PNGs as 8-bit RGB (a Pillow limitation), so those come out
8-bit; only single-channel 16-bit images keep their 16 bits. For multi-frame files (GIF, animated WebP, TIFF
pages) the first frame is used.

Alpha is upscaled apart from the colour, which is upscaled as stored (not premultiplied): colours that fully
transparent pixels happen to store can tint the soft edge the bicubic alpha gives to opaque regions.

Every failure raises :class:`~efficientvit.errors.EfficientViTError` with a one-line message starting with the
offending path, as :mod:`efficientvit.data.images` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn

from efficientvit.atomic import atomic_write
from efficientvit.data.images import open_image_file
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.inference.super_resolution import DEFAULT_TILE, upscale, upscale_float

__all__ = [
    "FORMATS",
    "check_destination",
    "open_image",
    "output_mode",
    "save_image",
    "upscale_image",
    "upscale_image_file",
]

FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
"""Output file extensions and the Pillow format each one writes."""

# Output modes each format can hold; WebP has no grey modes, so L and LA are written as RGB and RGBA.
_FORMAT_MODES: dict[str, frozenset[str]] = {
    "PNG": frozenset({"RGB", "RGBA", "L", "LA", "I;16"}),
    "JPEG": frozenset({"RGB", "L"}),
    "WEBP": frozenset({"RGB", "RGBA", "L", "LA"}),
    "TIFF": frozenset({"RGB", "RGBA", "L", "LA", "I;16"}),
}
_SAVE_OPTIONS: dict[str, dict[str, object]] = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}

_RGB_MODES = frozenset({"RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "P"})
_RGBA_MODES = frozenset({"RGBA", "RGBa", "PA"})
_GREY_MODES = frozenset({"L", "1"})
_GREY_ALPHA_MODES = frozenset({"LA", "La"})
_16BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
# Modes whose pixels keep their colour space through the conversion, so an ICC profile stays valid.
_KEEP_PROFILE = frozenset({"RGB", "RGBX", "P", "RGBA", "RGBa", "PA", "L", "1", "LA", "La", *_16BIT_MODES})
SUPPORTED = "RGB, RGBA, L, LA, 1, P, PA, CMYK, YCbCr, LAB, HSV, 16-bit grey (I;16, I with values 0..65535)"
_16BIT_MAX = 65535


def output_mode(image: Image.Image, name: str = "<image>") -> str:
    """The mode of ``image`` upscaled: ``"RGB"``, ``"RGBA"``, ``"L"``, ``"LA"`` or ``"I;16"``.

    Works on a lazily opened image (only the header is read). ``name`` starts the error for a mode that cannot
    be upscaled (32-bit float ``F`` and other exotic modes).
    """
    mode = image.mode
    transparent = image.info.get("transparency") is not None
    if mode in _RGBA_MODES or (transparent and mode in ("P", "RGB")):
        return "RGBA"
    if mode in _GREY_ALPHA_MODES or (transparent and mode == "L"):
        return "LA"
    if mode in _RGB_MODES:
        return "RGB"
    if mode in _GREY_MODES:
        return "L"
    if mode in _16BIT_MODES:
        return "I;16"
    what = "32-bit float images (mode 'F')" if mode == "F" else f"images of mode {mode!r}"
    raise EfficientViTError(
        f"{name}: {what} cannot be upscaled; supported: {SUPPORTED}; convert it to 16-bit or 8-bit first"
    )


def check_destination(destination: str | os.PathLike[str], mode: str) -> tuple[Path, str]:
    """The path to write (``.png`` appended when there is no extension) and its Pillow format.

    Raises if the extension is unknown or its format cannot hold ``mode`` (e.g. alpha or 16 bits in JPEG).
    """
    path = Path(destination)
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS)
        name = os.fspath(destination)
        raise EfficientViTError(f"{name}: unknown image extension {path.suffix!r}; use {known}")
    if mode not in _FORMAT_MODES[fmt]:
        what = "16-bit" if mode == "I;16" else f"{mode} (with alpha)"
        able = ".png or .tif" if mode == "I;16" else ".png, .webp or .tif"
        raise EfficientViTError(f"{os.fspath(path)}: {fmt} cannot store {what} images; write {able} instead")
    return path, fmt


def probe_output_mode(path: str | os.PathLike[str]) -> str:
    """The output mode of the image file ``path`` from its header alone (see :func:`output_mode`)."""
    with open_image_file(path) as img:
        return output_mode(img, os.fspath(path))


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """The image file ``path`` decoded and turned upright (EXIF orientation), in its own mode.

    Its mode is checked with :func:`output_mode`, so an image this returns can be upscaled.
    """
    name = os.fspath(path)
    with open_image_file(path) as img:
        output_mode(img, name)
        img.load()
        image = ImageOps.exif_transpose(img)
    if image.mode == "I":
        _check_16bit(np.asarray(image), name)
    return image


def _check_16bit(values: np.ndarray, name: str) -> None:
    """Refuse a 32-bit integer image whose values do not fit in 16 bits."""
    if values.size and (values.min() < 0 or values.max() > _16BIT_MAX):
        raise EfficientViTError(
            f"{name}: 32-bit integer image with values in {values.min()}..{values.max()}, outside the "
            f"16-bit range 0..{_16BIT_MAX}; rescale it to 16 bits first"
        )


def _grey(
    model: nn.Module, grey: Image.Image, tile: int | None, backend: str | None, progress: bool
) -> np.ndarray:
    """An 8-bit grey image upscaled: replicated to RGB, the rounded mean of the output channels, (sH, sW)."""
    rgb = torch.from_numpy(np.array(grey))[None].expand(3, -1, -1)  # (3, H, W)
    upscaled = upscale(model, rgb, tile=tile, backend=backend, progress=progress)  # (3, sH, sW)
    total = upscaled.sum(0, dtype=torch.int16)  # (sH, sW), at most 765
    return total.add_(1).div_(3, rounding_mode="floor").to(torch.uint8).numpy()  # round(mean), exactly


def _grey16(
    model: nn.Module, image: Image.Image, tile: int | None, backend: str | None, progress: bool
) -> np.ndarray:
    """A 16-bit grey image upscaled in float (v / 65535), as an (sH, sW) uint16 array."""
    values = np.asarray(image)
    if image.mode == "I":
        _check_16bit(values, "<image>")
    x = torch.from_numpy(values.astype(np.float32) / _16BIT_MAX)[None].expand(3, -1, -1)  # (3, H, W)
    out = upscale_float(model, x, tile=tile, backend=backend, progress=progress)  # (3, sH, sW) in [0, 1]
    grey = out.mean(0).mul_(_16BIT_MAX).round_()
    del out
    return grey.to(torch.int32).numpy().astype(np.uint16)


def _upscale_alpha(alpha: Image.Image, size: tuple[int, int]) -> Image.Image:
    return alpha.resize(size, Image.Resampling.BICUBIC)


def upscale_image(
    model: nn.Module,
    image: Image.Image,
    *,
    tile: int | None = DEFAULT_TILE,
    backend: str | None = "auto",
    progress: bool = False,
) -> Image.Image:
    """``image`` (any supported mode, see the module table) upscaled by the super-resolution ``model``.

    The result has mode ``output_mode(image)`` and size ``scale`` times the input's; the ICC profile is kept
    where the colours were not converted. ``tile``, ``backend`` and ``progress`` as in
    :func:`~efficientvit.inference.upscale`.
    """
    mode = output_mode(image)
    scale = int(getattr(model, "scale", 1))
    size = (image.width * scale, image.height * scale)
    source = image if image.mode == mode or mode == "I;16" else image.convert(mode)
    if mode == "I;16":
        result = Image.fromarray(_grey16(model, image, tile, backend, progress))  # mode I;16
    elif mode in ("L", "LA"):
        result = Image.fromarray(_grey(model, source.getchannel("L"), tile, backend, progress))
        if mode == "LA":
            result = Image.merge("LA", (result, _upscale_alpha(source.getchannel("A"), size)))
    else:
        rgb = torch.from_numpy(np.array(source.convert("RGB") if mode == "RGBA" else source))  # (H, W, 3)
        out = upscale(model, rgb.permute(2, 0, 1), tile=tile, backend=backend, progress=progress)
        # out: (3, sH, sW)
        del rgb
        pixels = out.permute(1, 2, 0).contiguous().numpy()  # (sH, sW, 3)
        del out  # keep at most two copies of the output alive
        result = Image.fromarray(pixels)
        del pixels
        if mode == "RGBA":
            result.putalpha(_upscale_alpha(source.getchannel("A"), size))
    profile = image.info.get("icc_profile")
    if profile and image.mode in _KEEP_PROFILE:
        result.info["icc_profile"] = profile
    return result


def save_image(image: Image.Image, destination: str | os.PathLike[str]) -> Path:
    """Write ``image`` in the format of ``destination``'s extension, creating parent directories.

    The file is written beside the destination and renamed into place, so a failure leaves no partial file.
    Returns the path written (``.png`` appended when ``destination`` has no extension).
    """
    path, fmt = check_destination(destination, image.mode)
    if fmt == "WEBP" and image.mode in ("L", "LA"):
        image = image.convert("RGB" if image.mode == "L" else "RGBA")  # WebP has no grey modes
    options = dict(_SAVE_OPTIONS.get(fmt, {}))
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    try:
        with atomic_write(path) as file:
            image.save(file, format=fmt, **options)
    except OSError as exc:
        reason = exc.strerror or one_line(exc)
        raise EfficientViTError(f"{os.fspath(path)}: cannot write {fmt} ({reason})") from exc
    return path


def upscale_image_file(
    model: nn.Module,
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    tile: int | None = DEFAULT_TILE,
    backend: str | None = "auto",
) -> Path:
    """Upscale the image file ``source`` with ``model`` and write it to ``destination``; returns its path.

    The output keeps the input's kind (see the module table): RGB, grey, grey or colour with alpha, or 16-bit
    grey (written as a 16-bit PNG or TIFF). The format follows ``destination``'s extension (.png, .jpg/.jpeg
    for RGB and grey only, .webp for 8-bit images, .tif); ``.png`` is appended when there is none. Format
    and mode are checked before the model runs. ``tile`` and ``backend`` as in
    :func:`~efficientvit.inference.upscale`.
    """
    image = open_image(source)
    check_destination(destination, output_mode(image, os.fspath(source)))
    return save_image(upscale_image(model, image, tile=tile, backend=backend), destination)
