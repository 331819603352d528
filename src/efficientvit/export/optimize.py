"""Inference-time module swaps: the same function, computed in a form that runtimes execute faster.

``optimize_for_inference(model)`` returns a copy of ``model`` with these swaps applied; the original is
left untouched and the outputs agree to float32 rounding (the products are the same, summed in another
order).

* ``UpSample`` (bicubic, the segmentation head and the SAM neck) -> :class:`MatmulBicubicUpSample`.
  Bicubic upsampling by an integer factor is linear and separable: ``M_h @ x @ M_w^T`` with two small
  (out x in) interpolation matrices (four taps per row, borders clamped as PyTorch does). ONNX Runtime's
  ``Resize(cubic)`` is slow on CPU: in efficientvit-seg-b1-cityscapes at 256x512 (1 thread) its two
  resizes took 30 % of the run (38 of 125 ms); as two MatMuls they cost < 2 %, and the whole model runs
  1.55x faster (56 -> 36 ms). In PyTorch itself the native kernel is already fast, so the swap only pays
  for exported graphs.
* LiteMLA is kept as it is: it is already linear in the token count, and everything around its two
  small matmuls (split, ReLU, pad, concat, division, layout reorders) is about 10 % of the ONNX Runtime run
  of seg-b1 at 1024x2048 and under 8 % of the compiled one. A reformulation could save part of those
  copies, a few per cent at most; we have not written one.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.layers import UpSample

_CUBIC_A = -0.75
"""The cubic convolution coefficient of PyTorch's (and OpenCV's) bicubic interpolation."""


def optimize_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every swap of this module applied (``info`` is kept)."""
    optimized = copy.deepcopy(model).eval()
    if hasattr(model, "info"):
        optimized.info = model.info
    swap_upsampling(optimized)
    return optimized


def swap_upsampling(model: nn.Module) -> int:
    """Replace in place every bicubic ``UpSample`` of ``model`` by a :class:`MatmulBicubicUpSample`;
    returns how many were replaced."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, UpSample):
                setattr(parent, name, MatmulBicubicUpSample(child.factor, size=child.size))
                count += 1
    return count


class MatmulBicubicUpSample(nn.Module):
    """``UpSample`` (bicubic, ``align_corners=False``) as two matrix products; any non-integer resize
    falls back to ``F.interpolate``."""

    def __init__(self, factor: int | None = None, *, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        if (factor is None) == (size is None):
            raise ValueError("give exactly one of factor and size")
        self.factor = factor
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if self.factor is not None:
            factors = (self.factor, self.factor)
        else:
            assert self.size is not None
            if tuple(x.shape[-2:]) == self.size:
                return x
            if self.size[0] % height or self.size[1] % width:
                return _interpolate(x, self.size)
            factors = (self.size[0] // height, self.size[1] // width)
        if factors == (1, 1):
            return x
        in_dtype = x.dtype
        if in_dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # as UpSample: resize in float32
        rows = bicubic_matrix(height, factors[0]).to(x.device, x.dtype)  # (H * f, H)
        cols = bicubic_matrix(width, factors[1]).to(x.device, x.dtype)  # (W * f, W)
        x = torch.matmul(x, cols.t())  # (B, C, H, W * f)
        x = torch.matmul(rows, x)  # (B, C, H * f, W * f)
        return x.to(in_dtype)

    def extra_repr(self) -> str:
        return f"factor={self.factor}" if self.size is None else f"size={self.size}"


def bicubic_matrix(length: int, factor: int) -> torch.Tensor:
    """The (length * factor, length) float32 matrix of 1-D bicubic upsampling by ``factor``, computed as
    ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` does on the CPU: output ``o``
    samples the input at ``(o + 0.5) * float32(1 / factor) - 0.5`` (rounded to float32) with four taps,
    weights evaluated in float32, indices clamped to the border. Its rounding error is PyTorch's own
    (at most a few 1e-7 relative; both are equally far from a float64 reference).

    Built on every call (a few microseconds) rather than cached: under ``torch.export`` or ``torch.compile``
    the construction is traced into the graph and folded to a constant there."""
    scale = torch.tensor(1.0 / factor, dtype=torch.float32).double()  # the kernel's float scale ...
    source = (
        (torch.arange(length * factor, dtype=torch.float64) + 0.5) * scale - 0.5
    ).float()  # ... in double
    floor = torch.floor(source)
    t = source - floor  # (L * f,): the fractional position in [0, 1)
    weights = torch.stack([_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t)], dim=1)
    taps = (floor.long().unsqueeze(1) + torch.arange(-1, 3)).clamp(0, length - 1)  # (L * f, 4)
    hits = (taps.unsqueeze(-1) == torch.arange(length)).to(torch.float32)  # (L * f, 4, L)
    return (weights.unsqueeze(-1) * hits).sum(dim=1)  # (L * f, L): clamped taps add up


def _cubic_near(x: torch.Tensor) -> torch.Tensor:
    """The cubic kernel for |x| <= 1."""
    return ((_CUBIC_A + 2) * x - (_CUBIC_A + 3)) * x * x + 1


def _cubic_far(x: torch.Tensor) -> torch.Tensor:
    """The cubic kernel for 1 < |x| < 2."""
    return ((_CUBIC_A * x - 5 * _CUBIC_A) * x + 8 * _CUBIC_A) * x - 4 * _CUBIC_A


def _interpolate(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    in_dtype = x.dtype
    if in_dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False).to(in_dtype)
