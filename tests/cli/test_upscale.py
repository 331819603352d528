"""`efficientvit upscale`: a file per image at scale x its size, modes kept, one-line errors for bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from efficientvit import create_model
from efficientvit.weights import save_safetensors

SIZE = (12, 20)  # (H, W) of the test images: small, so the model runs on one tile


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """``weights(scale)``: a safetensors file of efficientvit-sr-full-x<scale> with random weights."""
    directory = tmp_path_factory.mktemp("sr-weights")
    cache: dict[int, Path] = {}

    def make(scale: int) -> Path:
        if scale not in cache:
            model = create_model(f"efficientvit-sr-full-x{scale}")
            with torch.no_grad():
                weight = model.to_pixels.conv.weight
                weight.copy_(0.05 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(scale)))
            cache[scale] = save_safetensors(model, directory / f"sr-x{scale}.safetensors")
        return cache[scale]

    return make


def _size(path: Path) -> tuple[str, tuple[int, int]]:
    with Image.open(path) as image:
        return image.mode, image.size


def test_folder_of_images_keeps_each_mode(cli, make_image, tmp_path: Path, weights) -> None:
    kinds = {"rgb": "RGB", "gray": "L", "rgba": "RGBA", "gray16": "I;16", "jpeg": "RGB"}
    for kind in kinds:
        make_image(f"in/{kind}.{'jpg' if kind == 'jpeg' else 'png'}", kind, SIZE)
    out_dir = tmp_path / "out"
    result = cli("upscale", tmp_path / "in", "-o", out_dir, "-w", weights(2))
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert len(lines) == len(kinds)
    for kind, mode in kinds.items():
        output = out_dir / f"{kind}_x2.png"
        assert _size(output) == (mode, (40, 24))
        line = next(line for line in lines if line.startswith(str(tmp_path / "in" / kind)))
        assert line.endswith(f"(20x12) -> {output} (40x24) {mode}")


@pytest.mark.parametrize("option", [("--scale", "3"), ("--model", "efficientvit-sr-full-x3")])
def test_scale_three(cli, make_image, tmp_path: Path, weights, option: tuple[str, str]) -> None:
    image = make_image("a.png", "rgb", SIZE)
    result = cli("upscale", image, "-o", tmp_path / "out", "-w", weights(3), *option)
    assert result.code == 0, result.err
    assert _size(tmp_path / "out" / "a_x3.png") == ("RGB", (60, 36))


@pytest.mark.parametrize(("fmt", "mode"), [("jpg", "RGB"), ("webp", "RGBA")])
def test_format_option(cli, make_image, tmp_path: Path, weights, fmt: str, mode: str) -> None:
    image = make_image("a.png", "rgba" if mode == "RGBA" else "rgb", SIZE)
    result = cli("upscale", image, "-o", tmp_path / "out", "-w", weights(2), "--format", fmt, "--tile", "8")
    assert result.code == 0, result.err
    assert _size(tmp_path / "out" / f"a_x2.{fmt}") == (mode, (40, 24))


def test_alpha_into_jpeg_is_refused_before_any_work(cli, make_image, tmp_path: Path, weights) -> None:
    make_image("in/a.png", "rgb", SIZE)
    make_image("in/b.png", "rgba", SIZE)
    out_dir = tmp_path / "out"
    result = cli("upscale", tmp_path / "in", "-o", out_dir, "-w", weights(2), "--format", "jpg")
    result.assert_user_error(str(out_dir / "b_x2.jpg"), "JPEG cannot store RGBA", ".png")
    assert not out_dir.exists()


def test_float_image_is_refused(cli, tmp_path: Path, weights) -> None:
    path = tmp_path / "f.tif"
    Image.fromarray(np.zeros((4, 4), np.float32)).save(path)
    result = cli("upscale", path, "-o", tmp_path / "out", "-w", weights(2))
    result.assert_user_error(str(path), "mode 'F'", "supported: RGB")


@pytest.mark.parametrize("kind", ["text", "truncated_png"])
def test_broken_image(cli, make_image, tmp_path: Path, weights, kind: str) -> None:
    image = make_image("broken.png", kind, (64, 64))
    result = cli("upscale", image, "-o", tmp_path / "out", "-w", weights(2))
    result.assert_user_error(f"{image}: ")
    assert not (tmp_path / "out").exists()


def test_missing_image(cli, tmp_path: Path, weights) -> None:
    missing = tmp_path / "none.png"
    cli("upscale", missing, "-o", tmp_path, "-w", weights(2)).assert_user_error(str(missing), "no such file")


def test_model_of_another_task_is_refused(cli, make_image, tmp_path: Path, weights) -> None:
    result = cli("upscale", make_image("a.png", "rgb", SIZE), "-o", tmp_path, "-m", "efficientvit-b0")
    result.assert_user_error("efficientvit-b0", "classification model, not a super-resolution model")


def test_model_and_scale_disagree(cli, make_image, tmp_path: Path, weights) -> None:
    image = make_image("a.png", "rgb", SIZE)
    result = cli("upscale", image, "-o", tmp_path, "-m", "efficientvit-sr-full-x2", "--scale", "4")
    result.assert_user_error("efficientvit-sr-full-x2", "x2", "--scale is 4")


def test_colliding_output_names(cli, make_image, tmp_path: Path, weights) -> None:
    first, second = make_image("a.png", "rgb", SIZE), make_image("a.jpg", "jpeg", SIZE)
    result = cli("upscale", first, second, "-o", tmp_path / "out", "-w", weights(2))
    result.assert_user_error(str(first), str(second), "a_x2.png")


def test_bad_scale_exits_2(cli, make_image, tmp_path: Path) -> None:
    result = cli("upscale", make_image("a.png", "rgb", SIZE), "-o", tmp_path, "--scale", "5")
    assert result.code == 2 and "--scale" in result.err
