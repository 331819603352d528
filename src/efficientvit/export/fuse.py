"""An inference copy of a model with every BatchNorm folded into the layer before it.

In eval mode a BatchNorm is a per-channel affine map ``y = (x - mean) * gamma / sqrt(var + eps) + beta``;
after a convolution or linear layer it folds into that layer's weight and bias, so the copy computes the
same function with one layer fewer per block. The arithmetic is done in float64 and rounded once, so the
fused model matches the original to float32 rounding.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from efficientvit.layers import ConvNormAct, LinearNormAct

_FOLDABLE = (ConvNormAct, LinearNormAct)


def fuse_model(model: nn.Module, *, channels_last: bool = False, compile: bool = False) -> nn.Module:
    """An eval-mode copy of ``model`` for inference, with every foldable BatchNorm folded (``model`` is
    left untouched).

    ``channels_last`` stores the 4-D weights in channels-last memory format (feed channels-last inputs
    too); ``compile`` wraps the copy in ``torch.compile``. The copy keeps ``model.info`` and records the
    number of folded norms in ``fused_norms`` (see also :func:`count_fused`).
    """
    fused = copy.deepcopy(model).eval()
    if hasattr(model, "info"):
        fused.info = model.info  # shared: the registry metadata is immutable
    folded = fold_batch_norms(fused)
    fused.fused_norms = folded  # type: ignore[assignment]
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
    if compile:
        # The compiled wrapper forwards attribute reads (``info``, ``fused_norms``) to the module.
        fused = torch.compile(fused)  # type: ignore[assignment]
    return fused


def fold_batch_norms(model: nn.Module) -> int:
    """Fold in place every BatchNorm that directly follows the conv of a ``ConvNormAct`` or the linear layer
    of a ``LinearNormAct``, replacing it by ``nn.Identity``; returns how many were folded.

    Only valid for inference: the folded layers use the norms' running statistics.
    """
    count = 0
    for module in model.modules():
        if not isinstance(module, _FOLDABLE) or not _is_foldable_norm(module.norm):
            continue
        layer = module.conv if isinstance(module, ConvNormAct) else module.linear
        _fold_into(layer, module.norm)
        module.norm = nn.Identity()
        count += 1
    return count


def count_fused(model: nn.Module) -> int:
    """How many norms of ``model`` have been folded (``ConvNormAct`` / ``LinearNormAct`` whose norm is now
    an ``nn.Identity``)."""
    return sum(isinstance(m, _FOLDABLE) and isinstance(m.norm, nn.Identity) for m in model.modules())


def _is_foldable_norm(norm: nn.Module | None) -> bool:
    """A BatchNorm with running statistics (without them it normalises by batch statistics: not foldable)."""
    return (
        isinstance(norm, nn.modules.batchnorm._BatchNorm)
        and norm.running_mean is not None
        and norm.running_var is not None
    )


@torch.no_grad()
def _fold_into(layer: nn.Conv2d | nn.Linear, norm: nn.modules.batchnorm._BatchNorm) -> None:
    """Scale ``layer``'s output channels and shift its bias so that ``layer`` alone computes
    ``norm(layer(x))``; the layer gains a bias if it had none."""
    assert norm.running_mean is not None and norm.running_var is not None

    def exact(t: torch.Tensor) -> torch.Tensor:  # float64 on the CPU (some accelerators lack float64)
        return t.detach().to("cpu", torch.float64)

    weight = exact(layer.weight)
    scale = torch.rsqrt(exact(norm.running_var) + norm.eps)  # (C_out,)
    shift = -exact(norm.running_mean) * scale
    if norm.affine:
        scale = scale * exact(norm.weight)
        shift = shift * exact(norm.weight) + exact(norm.bias)
    bias = exact(layer.bias) if layer.bias is not None else torch.zeros_like(scale)
    new_weight = weight * scale.view(-1, *([1] * (weight.dim() - 1)))  # output channels come first
    new_bias = bias * scale + shift
    layer.weight.copy_(new_weight)
    if layer.bias is None:
        like = layer.weight
        layer.bias = nn.Parameter(new_bias.to(like.device, like.dtype), requires_grad=like.requires_grad)
    else:
        layer.bias.copy_(new_bias)
