"""EfficientViT-SR: output shapes for any size, bicubic at initialisation, windowed attention, sizes."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
import torch.nn.functional as F

from efficientvit import create_model, get_model_info, list_models
from efficientvit.benchmark.macs import count_macs, count_params
from efficientvit.models.super_resolution import (
    SR_CONFIGS,
    EfficientViTSR,
    SuperResolutionConfig,
    WindowedLiteMLA,
    build_super_resolution,
)

SR_MODELS = list_models("efficientvit-sr-*")
# The table in the module docstring of efficientvit.models.super_resolution.
PARAMS = {
    ("full", 2): 367_088,
    ("full", 3): 401_708,
    ("full", 4): 450_176,
    ("0.75w", 2): 213_120,
    ("0.75w", 3): 239_100,
    ("0.75w", 4): 275_472,
}


def _randomised(model: EfficientViTSR, seed: int = 0) -> EfficientViTSR:
    """``model`` with a non-zero last conv, so that its output is not just bicubic."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight = model.to_pixels.conv.weight
        weight.copy_(0.05 * torch.randn(weight.shape, generator=generator))
    return model


def test_registry_has_both_sizes_at_three_scales() -> None:
    expected = sorted(f"efficientvit-sr-{size}-x{s}" for size in ("full", "0.75w") for s in (2, 3, 4))
    assert expected == SR_MODELS
    for name in SR_MODELS:
        info = get_model_info(name)
        assert info.task == "sr" and not info.official and info.head is None
        shipped = name in ("efficientvit-sr-full-x2", "efficientvit-sr-full-x4")  # trained here (README)
        assert (info.checkpoint is not None) == shipped
        assert info.scale == int(name[-1]) and info.num_classes == 0 and info.class_names == ()


@pytest.mark.parametrize(("size", "scale"), list(PARAMS))
def test_parameter_counts_match_the_documented_table(size: str, scale: int) -> None:
    with torch.device("meta"):
        model = create_model(f"efficientvit-sr-{size}-x{scale}")
    assert count_params(model) == PARAMS[size, scale]
    assert count_params(model) * 4 < 2**21  # float32 weights under 2 MiB: small enough to ship in the wheel
    assert count_macs(model, (1, 3, *get_model_info(f"efficientvit-sr-{size}-x{scale}").resolution)) > 0


@pytest.mark.parametrize("name", SR_MODELS)
@pytest.mark.parametrize(("height", "width"), [(17, 23), (1, 1), (8, 8)])
def test_any_input_size_gives_scale_times_the_size(name: str, height: int, width: int) -> None:
    model = _randomised(create_model(name))
    scale = get_model_info(name).scale
    with torch.no_grad():
        out = model(torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 3, height * scale, width * scale) and torch.isfinite(out).all()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_untrained_model_is_exactly_bicubic(scale: int) -> None:
    model = create_model("efficientvit-sr-0.75w-x2", scale=scale)
    x = torch.rand(1, 3, 19, 26, generator=torch.Generator().manual_seed(scale))
    with torch.no_grad():
        out = model(x)
    expected = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def _naive_windowed(attention: WindowedLiteMLA, qkv: torch.Tensor) -> torch.Tensor:
    """ReLU attention run separately on every window's real tokens (no padding), then reassembled."""
    size, shift = attention.window_size, attention.shift
    height, width = qkv.shape[-2:]
    out = torch.zeros(qkv.shape[0], qkv.shape[1] // 3, height, width)
    row_edges = sorted({0, height, *range(-shift % size or size, height, size)})
    col_edges = sorted({0, width, *range(-shift % size or size, width, size)})
    for top, bottom in itertools.pairwise(row_edges):
        for left, right in itertools.pairwise(col_edges):
            window = qkv[:, :, top:bottom, left:right]
            out[:, :, top:bottom, left:right] = super(WindowedLiteMLA, attention).relu_attention(window)
    return out


@pytest.mark.parametrize(("shift", "height", "width"), [(0, 16, 24), (0, 13, 21), (4, 16, 24), (4, 13, 5)])
def test_windowed_attention_attends_within_each_window(shift: int, height: int, width: int) -> None:
    attention = WindowedLiteMLA(32, head_dim=8, window_size=8, shift=shift)
    qkv = torch.randn(2, 3 * 32, height, width, generator=torch.Generator().manual_seed(shift + height))
    expected = _naive_windowed(attention, qkv)
    torch.testing.assert_close(attention.relu_attention(qkv), expected, rtol=1e-4, atol=1e-5)


def _reach(model: EfficientViTSR, side: int) -> int:
    """How far (in input pixels) outputs of an x2 ``model`` move when the centre pixel of a ``side`` x
    ``side`` input changes."""
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    changed = x.clone()
    changed[..., side // 2, side // 2] += 1.0
    with torch.no_grad():
        diff = (model(changed) - model(x)).abs().amax(dim=(0, 1))  # (2 side, 2 side)
    rows, cols = (diff > 1e-6).nonzero(as_tuple=True)
    return int(max((rows // 2 - side // 2).abs().max(), (cols // 2 - side // 2).abs().max()))


def test_tile_margin_covers_the_receptive_field() -> None:
    """A change at one input pixel moves no output farther than ``tile_margin`` input pixels away."""
    model = _randomised(build_super_resolution(SR_CONFIGS["0.75w"]))
    # By hand, in body pixels (half the input's): stem 1; three blocks filling their 8-pixel windows (shifts
    # 0, 4, 0) plus the fused MBConv's 3x3: 9, 13, 17; body_end and to_pixels 2 more: 19 = 38 input pixels,
    # rounded up to the 16-pixel window grid.
    assert model.window_size == 16 and model.tile_margin == 48
    assert 16 < _reach(model, side=160) <= model.tile_margin


def test_the_first_design_still_builds_with_its_exact_tiles() -> None:
    """The first shipped design (blocks at the input resolution, MBConv, multi-scale attention), which
    ``efficientvit.benchmark.sr_designs`` times beside the others."""
    model = _randomised(build_super_resolution(SuperResolutionConfig(width=36, depth=4, head_dim=12)))
    assert model.tile_margin == 24
    assert 0 < _reach(model, side=64) <= model.tile_margin


def test_batch_elements_are_independent_and_bf16_autocast_stays_close() -> None:
    model = _randomised(create_model("efficientvit-sr-full-x2"))
    x = torch.rand(3, 3, 20, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(3)])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(x)
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)
    assert (bf16.float() - batched).abs().max() < 0.05


def test_config_is_frozen_and_overrides_go_through_the_registry() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SR_CONFIGS["full"].width = 8  # type: ignore[misc]
    model = create_model("efficientvit-sr-full-x2", width=16, depth=1, head_dim=8)
    assert model.config == dataclasses.replace(SR_CONFIGS["full"], width=16, depth=1, head_dim=8, scale=2)
    assert model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 10, 14)
    with pytest.raises(TypeError, match="widht"):
        create_model("efficientvit-sr-full-x2", widht=16)


# A design tried on the way: half-resolution MBConv blocks, a refinement at the input resolution.
HALF_RES = dict(width=48, depth=4, head_dim=16, body_stride=2, scales=(), ffn="mbconv", refine_width=16)


def test_half_resolution_body_keeps_odd_sizes_and_starts_as_bicubic() -> None:
    model = create_model("efficientvit-sr-0.75w-x2", **HALF_RES)
    x = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model(x)
    bicubic = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    assert out.shape == (1, 3, 74, 90)
    torch.testing.assert_close(out, bicubic)  # the detail branch starts at zero


def test_half_resolution_tile_margin_covers_the_receptive_field() -> None:
    model = _randomised(create_model("efficientvit-sr-0.75w-x2", **HALF_RES))
    # By hand, in body pixels (half the input's): stem 1; four blocks filling their 8-pixel windows (shifts
    # 0, 4, 0, 4) plus the MBConv's 1: 9, 13, 17, 21; body_end 1: 22 = 44 input pixels; the refinement and
    # to_pixels at the input resolution 2 more: 46, rounded up to the 16-pixel window grid.
    assert model.window_size == 16 and model.tile_margin == 48
    assert 16 < _reach(model, side=160) <= model.tile_margin  # beyond one window: the shifted windows chain


def test_refinement_needs_a_strided_body() -> None:
    with pytest.raises(ValueError, match="refine_width needs body_stride > 1"):
        create_model("efficientvit-sr-0.75w-x2", body_stride=1, refine_width=16)


def test_fused_mbconv_blocks_expand_with_a_full_conv_and_keep_tiles_exact() -> None:
    model = _randomised(create_model("efficientvit-sr-0.75w-x2", **{**HALF_RES, "ffn": "fused_mbconv"}))
    local = model.blocks.op_list[0].local_module.main
    assert local.spatial_conv.conv.groups == 1 and local.spatial_conv.conv.kernel_size == (3, 3)
    assert 16 < _reach(model, side=160) <= model.tile_margin  # the same 3x3 reach as MBConv's depthwise conv
    with pytest.raises(ValueError, match="ffn must be 'mbconv' or 'fused_mbconv'"):
        create_model("efficientvit-sr-0.75w-x2", ffn="fused")
