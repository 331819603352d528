"""Every architecture runs at sizes other than the paper's, batched, in float32 and under bf16 autocast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from efficientvit import create_model, get_model_info, list_models
from efficientvit.reference import load_manifest, recipe_state_dict

MANIFESTS = Path(__file__).parents[1] / "reference" / "manifests"
# One name per distinct architecture: the -rNNN classifiers share their bare name's architecture.
ARCHITECTURES = [
    name for name in list_models() if get_model_info(name).official and not re.search(r"-r\d+$", name)
]


def _input_size(name: str) -> tuple[int, int]:
    # Classifiers take any size; segmenters need multiples of 32 (the CLI pads for them).
    return (64, 96) if get_model_info(name).task == "seg" else (72, 100)


def _recipe_model(name: str) -> torch.nn.Module:
    model = create_model(name)
    model.load_state_dict(recipe_state_dict(load_manifest(MANIFESTS, name)["state_dict"]))
    return model


# bf16 autocast runs the same layers in every architecture; one per family keeps the test fast on CPUs without
# native bf16. SAM is left out: on an AVX2-only CPU its bf16 forward took 264 s (the L1 backbone it shares
# is checked; the SAM path under autocast is a GPU check).
BF16_ARCHITECTURES = {
    "efficientvit-b0",
    "efficientvit-l1",
    "efficientvit-seg-b0-cityscapes",
}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_batched_fp32_and_bf16_autocast_outputs_are_finite(name: str) -> None:
    model = _recipe_model(name)
    info = get_model_info(name)
    height, width = _input_size(name)
    x = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    expected_shape = {
        "cls": (2, info.num_classes),
        "seg": (2, info.num_classes, height // 8, width // 8),
        "sam": (2, 256, 64, 64),  # SAM's forward is its image encoder; the neck resizes to 64x64
    }[info.task]
    with torch.no_grad():
        fp32 = model(x)
        assert fp32.shape == expected_shape and torch.isfinite(fp32).all()
        if name not in BF16_ARCHITECTURES:
            return
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(x)
            bf16_zeros = model(torch.zeros_like(x))
    for out in (bf16, bf16_zeros):
        assert out.shape == expected_shape
        assert torch.isfinite(out).all()
    # bf16 keeps the attention in float32, so the result stays close to float32.
    assert (bf16.float() - fp32).abs().max() <= 0.1 * fp32.abs().max() + 0.05


@pytest.mark.parametrize("name", ["efficientvit-b1", "efficientvit-seg-b0-cityscapes"])
def test_batch_elements_are_independent(name: str) -> None:
    model = _recipe_model(name)
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)


def test_segmenter_rejects_sizes_not_divisible_by_32_with_a_clear_error() -> None:
    model = create_model("efficientvit-seg-b0-cityscapes")
    with pytest.raises(Exception, match="multiples of 32"):
        model(torch.zeros(1, 3, 70, 45))


def test_the_bf16_subset_names_real_architectures() -> None:
    assert set(ARCHITECTURES) >= BF16_ARCHITECTURES
