"""efficientvit.inference.upscale_file: each input mode keeps its kind; formats, orientation and errors."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from efficientvit import EfficientViTError, create_model
from efficientvit.data.images import read_image
from efficientvit.inference.super_resolution import upscale
from efficientvit.inference.upscale_file import (
    open_image,
    output_mode,
    save_image,
    upscale_image,
    upscale_image_file,
)

SIZE = (20, 12)  # (W, H): small, so every test runs the model on one tile


def _model(name: str) -> nn.Module:
    """An SR model whose last conv is random too, so its output is not just bicubic."""
    model = create_model(name)
    with torch.no_grad():
        weight = model.to_pixels.conv.weight
        weight.copy_(0.05 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))
    return model


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return _model("efficientvit-sr-full-x2")


@pytest.fixture(scope="module")
def bicubic_model() -> nn.Module:
    """The untrained model: its last conv is zero, so it is exactly bicubic (monotonic on a ramp)."""
    return create_model("efficientvit-sr-full-x2")


def _rgb(seed: int = 0, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Smooth (H, W, 3) uint8 content."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8))
    return np.asarray(small.resize(size, Image.Resampling.BICUBIC))


def _alpha(size: tuple[int, int] = SIZE) -> np.ndarray:
    """An (H, W) uint8 alpha: transparent on the left, opaque on the right, a ramp between."""
    return np.broadcast_to(np.linspace(0, 255, size[0]).round().astype(np.uint8), size[::-1]).copy()


def _expected_rgb(model: nn.Module, rgb: np.ndarray) -> np.ndarray:
    return upscale(model, torch.from_numpy(rgb.copy()).permute(2, 0, 1)).permute(1, 2, 0).numpy()


def _expected_alpha(alpha: np.ndarray, scale: int = 2) -> np.ndarray:
    size = (alpha.shape[1] * scale, alpha.shape[0] * scale)
    return np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BICUBIC))


def _run(model: nn.Module, image: Image.Image, path: Path, **save: object) -> Image.Image:
    image.save(path, **save)
    out = upscale_image_file(model, path, path.with_name(f"out_{path.stem}.png"))
    return Image.open(out)


@pytest.mark.parametrize("name", ["efficientvit-sr-full-x2", "efficientvit-sr-0.75w-x3"])
def test_rgb_is_the_tensor_upscale_at_scale_times_the_size(name: str, tmp_path: Path) -> None:
    model = _model(name)
    rgb = _rgb()
    out = _run(model, Image.fromarray(rgb), tmp_path / "a.png")
    assert out.mode == "RGB" and out.size == (SIZE[0] * model.scale, SIZE[1] * model.scale)
    np.testing.assert_array_equal(np.asarray(out), _expected_rgb(model, rgb))


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grey_stays_grey_as_the_rounded_mean_of_the_channels(
    model: nn.Module, tmp_path: Path, mode: str
) -> None:
    grey = Image.fromarray(_rgb()[..., 0]).convert(mode)
    out = _run(model, grey, tmp_path / "g.png")
    assert out.mode == "L" and out.size == (40, 24)
    rgb = _expected_rgb(model, np.repeat(np.asarray(grey.convert("L"))[..., None], 3, axis=2)).astype(int)
    np.testing.assert_array_equal(np.asarray(out), np.round(rgb.mean(axis=2)).astype(np.uint8))


def test_rgba_colour_by_the_model_alpha_bicubic(model: nn.Module, tmp_path: Path) -> None:
    rgb, alpha = _rgb(), _alpha()
    out = _run(model, Image.fromarray(np.dstack([rgb, alpha])), tmp_path / "a.png")
    assert out.mode == "RGBA" and out.size == (40, 24)
    pixels = np.asarray(out)
    np.testing.assert_array_equal(pixels[..., :3], _expected_rgb(model, rgb))
    np.testing.assert_array_equal(pixels[..., 3], _expected_alpha(alpha))


def test_grey_with_alpha_stays_la(model: nn.Module, tmp_path: Path) -> None:
    grey, alpha = _rgb()[..., 1], _alpha()
    out = _run(model, Image.fromarray(np.dstack([grey, alpha]), mode="LA"), tmp_path / "la.png")
    assert out.mode == "LA" and out.size == (40, 24)
    np.testing.assert_array_equal(np.asarray(out)[..., 1], _expected_alpha(alpha))


def test_palette_with_transparency_becomes_rgba(model: nn.Module, tmp_path: Path) -> None:
    palette = Image.fromarray(_rgb()).quantize(8)
    palette.info["transparency"] = 0
    path = tmp_path / "p.png"
    palette.save(path, transparency=0)
    assert Image.open(path).mode == "P" and output_mode(Image.open(path)) == "RGBA"
    rgba = np.asarray(palette.convert("RGBA"))
    out = upscale_image_file(model, path, tmp_path / "out.png")
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (24, 40, 4)
    np.testing.assert_array_equal(pixels[..., :3], _expected_rgb(model, rgba[..., :3]))
    np.testing.assert_array_equal(pixels[..., 3], _expected_alpha(rgba[..., 3]))


@pytest.mark.parametrize(("mode", "expected"), [("P", "RGB"), ("CMYK", "RGB"), ("YCbCr", "RGB")])
def test_other_colour_modes_become_rgb(model: nn.Module, tmp_path: Path, mode: str, expected: str) -> None:
    image = Image.fromarray(_rgb()).convert(mode)
    out = _run(model, image, tmp_path / f"{mode}.{'png' if mode == 'P' else 'tif'}")
    assert out.mode == expected and out.size == (40, 24)


def _ramp16(width: int = 160, height: int = 6) -> np.ndarray:
    return np.broadcast_to(np.linspace(0, 65535, width).round(), (height, width)).astype(np.uint16)


@pytest.mark.parametrize("dtype", [np.uint16, ">u2", np.int32])
def test_16_bit_grey_keeps_16_bits(bicubic_model: nn.Module, tmp_path: Path, dtype: object) -> None:
    ramp = _ramp16()
    image = Image.fromarray(ramp.astype(dtype))
    assert image.mode in ("I;16", "I;16B", "I")
    path = tmp_path / "ramp.tif"
    image.save(path)
    out_path = upscale_image_file(bicubic_model, path, tmp_path / "ramp_x2.png")
    with Image.open(out_path) as out:
        assert out.mode == "I;16" and out.size == (320, 12)
        values = np.asarray(out).astype(np.int64)
    assert (np.diff(values, axis=1) >= 0).all(), "a ramp stays monotonic"
    assert values.min() <= 100 and values.max() >= 65435, "the full 16-bit range is used"
    assert len(np.unique(values)) > 256, "not quantised to 8 bits"
    assert abs(values.mean() - ramp.mean()) <= 0.01 * ramp.mean()


def test_32_bit_integers_outside_16_bits_are_refused(model: nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    Image.fromarray(np.full((4, 4), 70000, np.int32)).save(path)
    with pytest.raises(EfficientViTError, match=r"big\.tif: .*70000.*16-bit range"):
        upscale_image_file(model, path, tmp_path / "out.png")


def _png16_rgb(path: Path, pixels: np.ndarray) -> None:
    """Write a 16-bit RGB PNG by hand (Pillow cannot write one)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width, _ = pixels.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    ihdr, idat, iend = chunk(b"IHDR", header), chunk(b"IDAT", zlib.compress(rows)), chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr + idat + iend)


def test_16_bit_rgb_is_read_as_8_bit_rgb(model: nn.Module, tmp_path: Path) -> None:
    """Documented limitation: Pillow opens 16-bit RGB PNGs as 8-bit RGB."""
    path = tmp_path / "rgb16.png"
    _png16_rgb(path, _rgb().astype(np.uint16) * 257)
    out = Image.open(upscale_image_file(model, path, tmp_path / "out.png"))
    assert out.mode == "RGB" and out.size == (40, 24)


def test_exif_orientation_is_applied(model: nn.Module, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rgb = _rgb()
    out = _run(model, Image.fromarray(rgb), tmp_path / "rotated.png", exif=exif)
    assert out.size == (24, 40)
    upright = np.ascontiguousarray(np.rot90(rgb, k=-1))
    np.testing.assert_array_equal(np.asarray(out), _expected_rgb(model, upright))


def test_icc_profile_is_kept_for_rgb(model: nn.Module, tmp_path: Path) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = _run(model, Image.fromarray(_rgb()), tmp_path / "icc.png", icc_profile=profile)
    assert out.info.get("icc_profile") == profile


@pytest.mark.parametrize(
    ("mode", "suffix", "stored"),
    [("RGB", ".jpg", "RGB"), ("L", ".jpeg", "L"), ("RGBA", ".webp", "RGBA"), ("RGB", ".tif", "RGB")],
)
def test_formats_from_the_extension(
    model: nn.Module, tmp_path: Path, mode: str, suffix: str, stored: str
) -> None:
    source = tmp_path / "in.png"
    Image.fromarray(np.dstack([_rgb(), _alpha()])).convert(mode).save(source)
    out = upscale_image_file(model, source, tmp_path / f"out{suffix}")
    assert out == tmp_path / f"out{suffix}"
    with Image.open(out) as image:
        assert image.mode == stored and image.size == (40, 24)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left


def test_png_is_the_default_extension(model: nn.Module, tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    Image.fromarray(_rgb()).save(source)
    assert upscale_image_file(model, source, tmp_path / "out") == tmp_path / "out.png"
    assert Image.open(tmp_path / "out.png").format == "PNG"


@pytest.mark.parametrize(
    ("kind", "destination", "needles"),
    [
        ("rgba", "out.jpg", ("JPEG cannot store RGBA", ".png")),
        ("la", "out.jpg", ("JPEG cannot store LA", ".png")),
        ("gray16", "out.jpg", ("JPEG cannot store 16-bit", ".png")),
        ("gray16", "out.webp", ("WEBP cannot store 16-bit", ".png")),
        ("rgb", "out.gif", ("unknown image extension '.gif'", ".png")),
    ],
)
def test_formats_that_cannot_hold_the_image_are_refused_before_running(
    tmp_path: Path, kind: str, destination: str, needles: tuple[str, ...]
) -> None:
    source = tmp_path / "in.png"
    rgb = _rgb()
    image = {
        "rgba": lambda: Image.fromarray(np.dstack([rgb, _alpha()])),
        "la": lambda: Image.fromarray(np.dstack([rgb[..., 0], _alpha()]), mode="LA"),
        "gray16": lambda: Image.fromarray(_ramp16()),
        "rgb": lambda: Image.fromarray(rgb),
    }[kind]()
    image.save(source)
    not_a_model = nn.Identity()  # the checks come first: the model never runs
    with pytest.raises(EfficientViTError) as err:
        upscale_image_file(not_a_model, source, tmp_path / destination)
    message = str(err.value)
    assert message.startswith(str(tmp_path / destination)) and "\n" not in message
    assert all(needle in message for needle in needles), message
    assert not (tmp_path / destination).exists()


def test_float_images_are_refused(model: nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "float.tif"
    Image.fromarray(np.random.default_rng(0).random((6, 8), dtype=np.float32)).save(path)
    with pytest.raises(EfficientViTError) as err:
        upscale_image_file(model, path, tmp_path / "out.png")
    message = str(err.value)
    assert message.startswith(f"{path}: 32-bit float images (mode 'F') cannot be upscaled; supported: RGB")
    assert "I;16" in message and "\n" not in message


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "empty"), (b"not an image\n", "not an image file"), (None, "truncated or corrupt")],
)
def test_broken_files_name_their_path(
    model: nn.Module, tmp_path: Path, content: bytes | None, needle: str
) -> None:
    path = tmp_path / "broken.png"
    if content is None:
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(EfficientViTError, match=needle) as err:
        upscale_image_file(model, path, tmp_path / "out.png")
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    assert not (tmp_path / "out.png").exists()


def test_missing_file(model: nn.Module, tmp_path: Path) -> None:
    with pytest.raises(EfficientViTError, match="no such file"):
        upscale_image_file(model, tmp_path / "none.png", tmp_path / "out.png")


def test_unwritable_destination(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EfficientViTError, match=r"/file/a\.png: cannot write PNG"):
        save_image(Image.new("RGB", (2, 2)), blocker / "a.png")


def test_model_of_another_task_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(path)
    with pytest.raises(EfficientViTError, match="classification model, not a super-resolution model"):
        upscale_image(create_model("efficientvit-b0"), open_image(path))


def test_open_image_matches_read_image(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(path)
    np.testing.assert_array_equal(np.asarray(open_image(path)), read_image(path).permute(1, 2, 0).numpy())


def test_memory_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from efficientvit.benchmark.upscale_memory import main

    result = main(["--size", "64x48", "--tile", "32"])
    assert (result["output_width"], result["output_height"]) == (128, 96)
    out = capsys.readouterr().out
    assert "peak RSS" in out and "wall time" in out and "threads" in out
