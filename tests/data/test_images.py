"""Tests for efficientvit.data.images."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from efficientvit.data.images import list_images, read_image, save_png
from efficientvit.errors import EfficientViTError


def _rgb(h: int = 12, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _check_rgb(t: torch.Tensor, h: int, w: int) -> None:
    assert t.dtype == torch.uint8
    assert tuple(t.shape) == (3, h, w)
    assert t.is_contiguous()


def _assert_one_line_about(exc: pytest.ExceptionInfo[EfficientViTError], path: Path) -> str:
    msg = str(exc.value)
    assert msg.startswith(str(path))
    assert "\n" not in msg
    return msg


def test_rgb_png_roundtrip_exact(tmp_path: Path) -> None:
    arr = _rgb()
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    t = read_image(path)
    _check_rgb(t, 12, 16)
    assert torch.equal(t, torch.from_numpy(arr).permute(2, 0, 1))


def test_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(path)
    _check_rgb(read_image(str(path)), 12, 16)


def test_jpeg(tmp_path: Path) -> None:
    arr = np.full((20, 30, 3), (200, 100, 50), dtype=np.uint8)
    path = tmp_path / "a.JPG"
    Image.fromarray(arr).save(path, format="JPEG", quality=95)
    t = read_image(path)
    _check_rgb(t, 20, 30)
    assert (t.float().mean(dim=(1, 2)) - torch.tensor([200.0, 100.0, 50.0])).abs().max() < 3


def test_rgba_png_drops_alpha(tmp_path: Path) -> None:
    arr = np.zeros((4, 5, 4), dtype=np.uint8)
    arr[..., :3] = (10, 20, 30)
    arr[..., 3] = 0  # fully transparent: colour is kept, not composited over white
    path = tmp_path / "a.png"
    Image.fromarray(arr, mode="RGBA").save(path)
    t = read_image(path)
    _check_rgb(t, 4, 5)
    assert t[:, 0, 0].tolist() == [10, 20, 30]


def test_la_png(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    Image.new("LA", (3, 2), (77, 128)).save(path)
    t = read_image(path)
    _check_rgb(t, 2, 3)
    assert t.unique().tolist() == [77]


def test_grayscale_png_replicated(tmp_path: Path) -> None:
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    path = tmp_path / "g.png"
    Image.fromarray(gray, mode="L").save(path)
    t = read_image(path)
    _check_rgb(t, 6, 8)
    for c in range(3):
        assert torch.equal(t[c], torch.from_numpy(gray))


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 65535, 32896], [257, 128, 129]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    t = read_image(path)
    _check_rgb(t, 2, 3)
    assert t[0].tolist() == [[0, 255, 128], [1, 0, 1]]
    assert torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])


def test_16bit_big_endian_tiff(tmp_path: Path) -> None:
    values = np.array([[65535, 32896]], dtype=">u2")
    path = tmp_path / "g16.tif"
    Image.frombytes("I;16B", (2, 1), values.tobytes()).save(path)
    assert read_image(path)[0].tolist() == [[255, 128]]


def test_32bit_float_tiff_in_unit_range(tmp_path: Path) -> None:
    path = tmp_path / "f.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F").save(path)
    assert read_image(path)[0].tolist() == [[0, 128, 255]]


def test_32bit_float_out_of_range_is_rescaled(tmp_path: Path) -> None:
    path = tmp_path / "f.tif"
    Image.fromarray(np.array([[-10.0, 0.0, 1000.0]], dtype=np.float32), mode="F").save(path)
    t = read_image(path)
    assert t[0, 0, 0] == 0 and t[0, 0, 2] == 255


def test_palette_png(tmp_path: Path) -> None:
    img = Image.new("P", (3, 2))
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    img.putpixel((1, 0), 1)
    path = tmp_path / "p.png"
    img.save(path)
    t = read_image(path)
    _check_rgb(t, 2, 3)
    assert t[:, 0, 0].tolist() == [255, 0, 0]
    assert t[:, 0, 1].tolist() == [0, 255, 0]


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (2, 2))
    img.putpalette([9, 8, 7, 1, 2, 3] + [0] * (256 * 3 - 6))
    path = tmp_path / "pt.png"
    img.save(path, transparency=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "convert to RGBA" palette-transparency warning
        t = read_image(path)
    assert t[:, 0, 0].tolist() == [9, 8, 7]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (4, 4), (0, 0, 0, 0)).save(path, quality=95)
    t = read_image(path)
    _check_rgb(t, 4, 4)
    assert t.min() >= 250  # no ink = white


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = Image.fromarray(_rgb(h=4, w=6))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "o.jpg"
    img.save(path, exif=exif)
    _check_rgb(read_image(path), 6, 4)


def test_1x1_image(tmp_path: Path) -> None:
    path = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (1, 2, 3)).save(path)
    t = read_image(path)
    _check_rgb(t, 1, 1)
    assert t.flatten().tolist() == [1, 2, 3]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(EfficientViTError) as exc:
        read_image(path)
    assert "no such file" in _assert_one_line_about(exc, path)


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "dir.png"
    path.mkdir()
    with pytest.raises(EfficientViTError) as exc:
        read_image(path)
    assert "directory" in _assert_one_line_about(exc, path)


def test_text_file_with_png_extension(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture\n")
    with pytest.raises(EfficientViTError) as exc:
        read_image(path)
    assert "not an image file" in _assert_one_line_about(exc, path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(EfficientViTError) as exc:
        read_image(path)
    assert "empty" in _assert_one_line_about(exc, path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "WEBP"])
def test_truncated_image(tmp_path: Path, fmt: str) -> None:
    full = tmp_path / f"full.{fmt.lower()}"
    Image.fromarray(_rgb(64, 64)).save(full, format=fmt)
    data = full.read_bytes()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EfficientViTError) as exc:
        read_image(path)
    assert "truncated or corrupt" in _assert_one_line_about(exc, path)


def test_list_images_directory(tmp_path: Path) -> None:
    for name in ["b.png", "a.JPG", "c.webp", "notes.txt", ".hidden.png", "d.Tiff"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.png").write_bytes(b"x")
    (tmp_path / "dir.png").mkdir()
    found = list_images([tmp_path])
    assert [p.name for p in found] == ["a.JPG", "b.png", "c.webp", "d.Tiff"]


def test_list_images_mixes_files_and_directories_in_order(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.png").write_bytes(b"x")
    single = tmp_path / "photo.unusual"
    single.write_bytes(b"x")
    found = list_images([single, str(tmp_path / "d")])
    assert found == [single, tmp_path / "d" / "x.png"]


def test_list_images_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "missing_dir"
    with pytest.raises(EfficientViTError) as exc:
        list_images([path])
    assert "no such file or directory" in _assert_one_line_about(exc, path)


def test_list_images_directory_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(EfficientViTError) as exc:
        list_images([tmp_path])
    assert "no image files" in _assert_one_line_about(exc, tmp_path)


def test_save_png_roundtrip_creates_parents(tmp_path: Path) -> None:
    arr = torch.from_numpy(_rgb()).permute(2, 0, 1)
    out = save_png(arr, tmp_path / "x" / "y" / "out.png")
    assert out.is_file()
    assert torch.equal(read_image(out), arr)


def test_save_png_grayscale(tmp_path: Path) -> None:
    mask = torch.arange(12, dtype=torch.uint8).reshape(3, 4)
    path = tmp_path / "m.png"
    save_png(mask, path)
    with Image.open(path) as img:
        assert img.mode == "L"
        assert np.array_equal(np.asarray(img), mask.numpy())


def test_save_png_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        save_png(torch.zeros(3, 2, 2), tmp_path / "f.png")
    with pytest.raises(ValueError, match="shape"):
        save_png(torch.zeros(2, 2, 2, dtype=torch.uint8), tmp_path / "f.png")


def test_save_png_unwritable_destination(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = blocker / "out.png"
    with pytest.raises(EfficientViTError) as exc:
        save_png(torch.zeros(2, 2, dtype=torch.uint8), path)
    _assert_one_line_about(exc, path)
