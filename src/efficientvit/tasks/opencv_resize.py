"""OpenCV's ``cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC)`` of uint8 images, bit for bit.

The official EfficientViT segmentation evaluator resizes its inputs that way; matching it exactly, without
OpenCV as a dependency, means repeating OpenCV's arithmetic (``modules/imgproc/src/resize.cpp``, the
generic separable path that 8-bit cubic resizing takes):

* source coordinate of output pixel ``d``: ``f = float32((d + 0.5) * (src / dst) - 0.5)`` computed in
  float64, ``s = floor(f)``, ``t = f - s``; taps at ``s - 1 .. s + 2``, clamped to the image (replicated
  border);
* the Keys kernel with ``A = -0.75`` evaluated in float32 at ``t``, each weight scaled by 2**11 and
  rounded half to even to an int16 (the four need not sum to 2048);
* a horizontal pass in integers (uint8 * int16 summed into int32);
* a vertical pass that OpenCV's SIMD code does in float32 (``((S0 b0 + (S1 b1 + (S2 b2 + S3 b3)))``, each
  ``b = beta * 2**-22``, separate multiply and add, rounded half to even) on the first
  ``8 * floor(W * C / 8)`` values of each interleaved output row and in integers
  (``(sum + 2**21) >> 22``) on the rest; both saturate to 0..255.

This is OpenCV's own code, what ``cv2.resize`` runs with ``cv2.setUseOptimized(False)`` and wherever no
accelerated backend takes the call. The x86 wheels of ``opencv-python`` hand 8-bit cubic resizes of images
of at least a few pixels to Intel IPP instead (closed source, float arithmetic): those results differ from
these by 1 in about 5 % of the values, and between OpenCV releases (4.10 and 4.12 differ) as well.
"""

from __future__ import annotations

import torch

__all__ = ["cubic_taps", "resize_cubic_opencv"]

_A = -0.75
_COEF_BITS = 11
_SIMD_VALUES = 8
"""Values per step of OpenCV's vectorised vertical pass (8 int16 lanes of its SSE baseline)."""
_ROWS_PER_BLOCK = 64


def cubic_taps(source: int, target: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (target, 4) int64 source indices (clamped) and int64 fixed-point weights of OpenCV's cubic resize
    of one axis from ``source`` to ``target`` samples."""
    scale = 1.0 / (target / source)  # float64, as OpenCV: 1 / inv_scale
    position = ((torch.arange(target, dtype=torch.float64) + 0.5) * scale - 0.5).to(torch.float32)
    start = torch.floor(position)
    t = position - start  # float32, exact
    a = torch.tensor(_A, dtype=torch.float32)
    one = torch.ones((), dtype=torch.float32)
    t1 = t + one
    w0 = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + one
    u = one - t
    w2 = ((a + 2) * u - (a + 3)) * u * u + one
    w3 = one - w0 - w1 - w2
    weights = torch.stack([w0, w1, w2, w3], dim=1) * (1 << _COEF_BITS)  # (target, 4) float32, exact scaling
    weights = torch.round(weights).clamp_(-32768, 32767).to(torch.int64)  # half to even, as cvRound
    index = start.to(torch.int64)[:, None] + torch.arange(-1, 3)  # (target, 4)
    return index.clamp_(0, source - 1), weights


def resize_cubic_opencv(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A uint8 (…, C, H, W) image resized to ``size`` (h, w) exactly as OpenCV's ``INTER_CUBIC`` resizes
    the (H, W, C) array (an equal size is returned unchanged, as OpenCV copies it)."""
    if image.dtype != torch.uint8:
        raise TypeError(f"resize_cubic_opencv takes uint8 images, got {image.dtype}")
    height, width = image.shape[-2:]
    out_h, out_w = int(size[0]), int(size[1])
    if (height, width) == (out_h, out_w):
        return image
    channels = image.shape[-3]
    device = image.device
    x_index, x_weight = (t.to(device) for t in cubic_taps(width, out_w))
    y_index, y_weight = (t.to(device) for t in cubic_taps(height, out_h))
    source = image.to(torch.int32)
    # Horizontal pass, integers: (…, C, H, W) -> (…, C, H, out_w).
    rows = source.index_select(-1, x_index[:, 0]) * x_weight[:, 0].to(torch.int32)
    for k in range(1, 4):
        rows += source.index_select(-1, x_index[:, k]) * x_weight[:, k].to(torch.int32)
    # OpenCV's SIMD loop covers the first 8 * floor(out_w * C / 8) values of an interleaved output row
    # (column * C + channel); the rest, at most the last 7 values, take its scalar integer code.
    simd_end = (out_w * channels) // _SIMD_VALUES * _SIMD_VALUES
    first_tail = simd_end // channels  # the first column with a value past the SIMD loop
    planes = torch.arange(channels, device=device)
    columns = torch.arange(first_tail, out_w, device=device)
    in_simd = (columns[None, :] * channels + planes[:, None] < simd_end)[:, None, :]  # (C, 1, tail)
    out = torch.empty((*image.shape[:-2], out_h, out_w), dtype=torch.uint8, device=device)
    for top in range(0, out_h, _ROWS_PER_BLOCK):  # bounded temporaries: a block of output rows at a time
        block = slice(top, min(top + _ROWS_PER_BLOCK, out_h))
        taps = [rows.index_select(-2, y_index[block, k]) for k in range(4)]  # 4 x (…, C, h, out_w) int32
        beta = y_weight[block, None]  # (h, 1, 4): broadcast over columns
        values = _vertical_float(taps, beta)
        tail = [tap[..., first_tail:] for tap in taps]
        values[..., first_tail:] = torch.where(in_simd, values[..., first_tail:], _vertical_fixed(tail, beta))
        out[..., block, :] = values.clamp_(0, 255).to(torch.uint8)
    return out


def _vertical_float(taps: list[torch.Tensor], beta: torch.Tensor) -> torch.Tensor:
    """OpenCV's SIMD vertical pass: ``s0*b0 + (s1*b1 + (s2*b2 + s3*b3))`` in float32 with ``b = beta *
    2**-22``, separate multiply and add, rounded half to even; int32."""
    b = (beta.to(torch.float32) * 2.0 ** (-2 * _COEF_BITS)).unbind(-1)
    s = [tap.to(torch.float32) for tap in taps]
    return torch.round(s[0] * b[0] + (s[1] * b[1] + (s[2] * b[2] + s[3] * b[3]))).to(torch.int32)


def _vertical_fixed(taps: list[torch.Tensor], beta: torch.Tensor) -> torch.Tensor:
    """OpenCV's scalar vertical pass: ``(sum of tap * beta + 2**21) >> 22`` in integers; int32."""
    total = sum(tap.to(torch.int64) * beta[..., k] for k, tap in enumerate(taps))
    assert isinstance(total, torch.Tensor)
    return ((total + (1 << (2 * _COEF_BITS - 1))) >> (2 * _COEF_BITS)).to(torch.int32)
