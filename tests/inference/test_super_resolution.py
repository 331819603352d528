"""efficientvit.inference.super_resolution: tiled upscaling equals whole-image upscaling, any size."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from efficientvit import EfficientViTError, create_model
from efficientvit.inference.super_resolution import upscale, upscale_float


def _model(name: str = "efficientvit-sr-full-x2", seed: int = 0) -> nn.Module:
    """An SR model with random weights everywhere, its last conv included (so it is not just bicubic)."""
    model = create_model(name)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight = model.to_pixels.conv.weight
        weight.copy_(0.05 * torch.randn(weight.shape, generator=generator))
    return model


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return _model()


@pytest.mark.parametrize(("height", "width"), [(96, 80), (45, 71)])
def test_tiled_equals_whole_image(model: nn.Module, height: int, width: int) -> None:
    x = torch.rand(3, height, width, generator=torch.Generator().manual_seed(height))
    whole = upscale_float(model, x, tile=None)
    tiled = upscale_float(model, x, tile=32)
    assert whole.shape == tiled.shape == (3, 2 * height, 2 * width)
    assert (whole - tiled).abs().max() <= 1e-4
    with torch.no_grad():
        torch.testing.assert_close(whole, model(x[None])[0].clamp(0, 1), rtol=0, atol=1e-5)


def test_too_small_an_overlap_shows_at_the_seams(model: nn.Module) -> None:
    """The check above is sensitive: without context, tiles differ from the whole image."""
    x = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    seams = upscale_float(model, x, tile=32, overlap=0) - upscale_float(model, x, tile=None)
    assert seams.abs().max() > 1e-3


@pytest.mark.parametrize("name", ["efficientvit-sr-0.75w-x3", "efficientvit-sr-full-x4"])
def test_uint8_upscale_of_odd_sizes_is_the_rounded_float_result(
    name: str, random_image: Callable[..., torch.Tensor]
) -> None:
    model = _model(name)
    scale = model.scale
    image = random_image(17, 23)
    out = upscale(model, image, tile=16)
    assert out.dtype == torch.uint8 and out.shape == (3, 17 * scale, 23 * scale)
    expected = upscale_float(model, image.float() / 255, tile=None).mul(255).round().to(torch.uint8)
    assert (out.int() - expected.int()).abs().max() <= 1


def test_untrained_model_gives_the_clamped_bicubic_image(random_image: Callable[..., torch.Tensor]) -> None:
    model = create_model("efficientvit-sr-full-x2")
    image = random_image(20, 30, seed=3)
    bicubic = F.interpolate(image[None].float() / 255, scale_factor=2, mode="bicubic", align_corners=False)
    expected = bicubic[0].mul(255).round().clamp(0, 255).to(torch.uint8)
    out = upscale(model, image, tile=8)
    assert (out.int() - expected.int()).abs().max() <= 1


def test_inputs_and_models_are_checked(model: nn.Module) -> None:
    with pytest.raises(ValueError, match="uint8"):
        upscale(model, torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="float"):
        upscale_float(model, torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        upscale_float(model, torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="tile"):
        upscale(model, torch.zeros(3, 8, 8, dtype=torch.uint8), tile=0)
    with pytest.raises(EfficientViTError, match="not a"):
        upscale(create_model("efficientvit-b0"), torch.zeros(3, 8, 8, dtype=torch.uint8))


def test_progress_shows_a_bar_of_the_tiles_only_when_asked(
    random_image: Callable[..., torch.Tensor], capsys: pytest.CaptureFixture[str]
) -> None:
    model, image = _model(), random_image(64, 64)
    quiet = upscale(model, image, tile=16, backend="eager")
    assert capsys.readouterr().err == ""
    shown = upscale(model, image, tile=16, backend="eager", progress=True)
    assert "/16 [" in capsys.readouterr().err  # 4 x 4 tiles of 16 pixels
    assert torch.equal(quiet, shown)


def test_tiles_of_the_half_resolution_body_equal_the_whole_image() -> None:
    faster = create_model(
        "efficientvit-sr-0.75w-x2", width=48, head_dim=16, body_stride=2, scales=(), refine_width=16
    ).eval()
    weight = faster.to_pixels.conv.weight  # random, so that the output is not just bicubic
    with torch.no_grad():
        weight.copy_(0.05 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(4)))
    x = torch.rand(3, 70, 90, generator=torch.Generator().manual_seed(4))
    whole = upscale_float(faster, x, tile=None, backend="eager")
    tiled = upscale_float(faster, x, tile=32, backend="eager")  # 32 -> the 16-pixel grid, 48 of context
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)
