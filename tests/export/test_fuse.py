"""BatchNorm folding: the fused copy computes the same function (to float32 rounding) and still reproduces the
official golden outputs, and the original model is left as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from efficientvit import create_model
from efficientvit.export import count_fused, fold_batch_norms, fuse_model
from efficientvit.layers import ConvNormAct, LinearNormAct
from efficientvit.reference import golden_input, golden_tolerance

GOLDEN = Path(__file__).parents[1] / "reference" / "golden"
# (model, output compared with the golden file): the public golden cases of each task.
CASES = [
    ("efficientvit-b1", "logits"),
    ("efficientvit-seg-b0-cityscapes", "logits"),
    ("efficientvit-sam-l0", "image_embeddings"),
]


def _batch_norms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _rounding_tolerance(reference: torch.Tensor) -> float:
    """Float32 rounding of a deep network: about ten times the noise seen between fused and plain."""
    return 1e-5 * reference.abs().max().item() + 1e-5


@pytest.mark.parametrize(("name", "output"), CASES, ids=[name for name, _ in CASES])
def test_fused_model_matches_plain_and_golden(
    name: str, output: str, official_checkpoint: Callable[[str], Path]
) -> None:
    model = create_model(name, weights=official_checkpoint(name))
    norms = _batch_norms(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_model(model)

    assert norms > 0 and _batch_norms(fused) == 0  # every BatchNorm of these models follows a conv
    assert count_fused(fused) == fused.fused_norms == norms
    assert count_fused(model) == 0 and _batch_norms(model) == norms
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert fused.info is model.info and not fused.training

    shape = json.loads((GOLDEN / f"{name}.json").read_text())["input"]["shape"]
    golden = torch.from_numpy(np.load(GOLDEN / f"{name}.npz")[output])
    x = golden_input(shape)
    with torch.no_grad():
        plain, ours, zeros = model(x), fused(x), fused(torch.zeros(shape))
    assert (ours - plain).abs().max().item() <= _rounding_tolerance(plain)
    assert (ours - golden).abs().max().item() <= golden_tolerance(golden)
    assert torch.isfinite(zeros).all()


def test_folding_is_exact_for_every_layer_kind() -> None:
    """Conv with and without bias, grouped conv, non-affine BatchNorm, and Linear + BatchNorm1d."""
    torch.manual_seed(0)
    layers = nn.Sequential(
        ConvNormAct(4, 8, 3, stride=2, bias=True),
        ConvNormAct(8, 8, 3, groups=8, act=nn.Hardswish),
        ConvNormAct(8, 6, 1, norm=lambda c: nn.BatchNorm2d(c, affine=False), act=None),
        ConvNormAct(6, 6, 1, norm=None, act=None),  # nothing to fold
        nn.AdaptiveAvgPool2d(1),
        LinearNormAct(6, 5, norm=nn.BatchNorm1d, act=nn.ReLU),
        LinearNormAct(5, 3, norm=nn.LayerNorm),  # LayerNorm normalises per sample: not foldable
    )
    for module in layers.modules():  # non-trivial statistics and affine parameters
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.2, 2)
            if module.affine:
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.uniform_(module.bias, -1, 1)
    layers.train()  # fuse_model switches its copy to eval mode, and leaves this one alone
    x = torch.randn(2, 4, 16, 16)

    fused = fuse_model(layers)
    assert count_fused(fused) == 4 and _batch_norms(fused) == 0
    assert layers.training and _batch_norms(layers) == 4
    with torch.no_grad():
        expected = layers.eval()(x)
        assert torch.allclose(fused(x), expected, rtol=1e-5, atol=1e-6)
    assert fold_batch_norms(fused) == 0  # nothing left to fold


def test_channels_last_and_compile_keep_the_function_and_info(
    official_checkpoint: Callable[[str], Path],
) -> None:
    model = create_model("efficientvit-b1", weights=official_checkpoint("efficientvit-b1"))
    fast = fuse_model(model, channels_last=True)
    convs = [m for m in fast.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected = model(x)
        ours = fast(x.contiguous(memory_format=torch.channels_last))
    assert (ours - expected).abs().max().item() <= _rounding_tolerance(expected)

    compiled = fuse_model(model, compile=True)  # compiles lazily, at the first call (not run here: slow)
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule)
    assert compiled.info is model.info and compiled.fused_norms == fast.fused_norms
