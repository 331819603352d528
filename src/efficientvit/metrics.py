"""Evaluation metrics as pure tensor functions: no state, no I/O, no reduction across processes."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mask_iou"]


def mask_iou(pred: Tensor, gt: Tensor) -> Tensor:
    """Intersection over union of paired binary masks.

    Args:
        pred: predicted masks, (N, H, W); any dtype, non-zero means foreground.
        gt: ground-truth masks, (N, H, W), same shape as ``pred``.

    Returns:
        (N,) float32 IoU per pair. A pair whose masks are both empty scores 1.0 (a perfect "nothing" answer).
    """
    if pred.shape != gt.shape:
        raise ValueError(
            f"mask_iou needs masks of equal shape, got {tuple(pred.shape)} and {tuple(gt.shape)}"
        )
    if pred.dim() != 3:
        raise ValueError(f"mask_iou needs (N, H, W) masks, got shape {tuple(pred.shape)}")
    pred, gt = pred.bool().flatten(1), gt.to(pred.device).bool().flatten(1)  # (N, H*W)
    inter = (pred & gt).sum(1, dtype=torch.float64)
    union = (pred | gt).sum(1, dtype=torch.float64)
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return iou.float()
