"""Evaluation metrics as pure tensor functions: no state, no I/O, no reduction across processes.

Every split-level metric is built from per-batch *sums* that a caller accumulates over the whole split and,
under DDP, all-reduces (``torch.distributed.all_reduce(..., op=SUM)``) before finishing:

* segmentation: :func:`confusion_matrix` per batch (int64 counts, summed), then :func:`iou_from_confusion`,
  :func:`mean_iou` and :func:`pixel_accuracy` once on the total;
* classification: :func:`topk_correct` per batch (int64 counts, summed together with the sample count),
  accuracy = correct / samples;
* super-resolution: :func:`sr_psnr_ssim` gives per-image PSNR and SSIM (float64); sum them together with the
  image count and divide (SR papers average per-image values, never pool pixels across images);
* SAM: :func:`mask_iou` per mask pair, averaged the same way.

Building blocks of the SR protocol (:func:`rgb_to_y`, :func:`crop_border`, :func:`psnr`, :func:`ssim`) are
public for other protocols.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from efficientvit.data.labels import IGNORE_INDEX

__all__ = [
    "confusion_matrix",
    "crop_border",
    "iou_from_confusion",
    "mask_iou",
    "mean_iou",
    "pixel_accuracy",
    "psnr",
    "rgb_to_y",
    "sr_psnr_ssim",
    "ssim",
    "topk_correct",
]

# ---------------------------------------------------------------------------------------------------------
# SAM
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# Semantic segmentation
# ---------------------------------------------------------------------------------------------------------


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """Pixel confusion matrix of a batch of label maps; sum it over a split (and across processes).

    Args:
        pred: predicted class indices, any shape (e.g. (B, H, W)), integer dtype, values in [0, num_classes).
        target: ground-truth class indices, same shape as ``pred``, integer dtype (uint8 masks are fine).
        num_classes: C.
        ignore_index: target value to skip (Cityscapes / ADE20K use 255).

    Returns:
        (C, C) int64 counts on ``pred``'s device; rows are target classes, columns predicted classes.
        Pixels whose target is ``ignore_index`` or lies outside [0, C) are dropped.

    Raises:
        ValueError: on mismatched shapes, non-integer inputs, or a prediction outside [0, C) on a counted
            pixel.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"confusion_matrix needs pred and target of equal shape, got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    for name, t in (("pred", pred), ("target", target)):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"confusion_matrix needs integer class indices for {name}, got {t.dtype}")
    if num_classes < 1:
        raise ValueError(f"confusion_matrix needs num_classes >= 1, got {num_classes}")
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).to(pred.device).long()  # widen first: uint8 * C would overflow
    keep = (target != ignore_index) & (target >= 0) & (target < num_classes)
    pred, target = pred[keep], target[keep]
    if pred.numel() and (int(pred.min()) < 0 or int(pred.max()) >= num_classes):
        raise ValueError(f"confusion_matrix got predictions outside [0, {num_classes})")
    counts = torch.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def iou_from_confusion(confusion: Tensor) -> Tensor:
    """Per-class intersection over union from a (C, C) confusion matrix (rows target, columns prediction).

    Returns:
        (C,) float64. A class that occurs neither in the target nor in the prediction has no IoU: NaN.
        (A class present on only one side scores 0.)
    """
    if confusion.dim() != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"iou_from_confusion needs a square (C, C) matrix, got {tuple(confusion.shape)}")
    confusion = confusion.double()
    inter = confusion.diagonal()
    union = confusion.sum(0) + confusion.sum(1) - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.full_like(union, math.nan))


def mean_iou(confusion: Tensor) -> float:
    """Mean IoU over the classes that occur (in target or prediction); NaN if none does."""
    return float(iou_from_confusion(confusion).nanmean())


def pixel_accuracy(confusion: Tensor) -> float:
    """Fraction of counted pixels predicted correctly; NaN for an empty confusion matrix."""
    if confusion.dim() != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"pixel_accuracy needs a square (C, C) matrix, got {tuple(confusion.shape)}")
    total = float(confusion.sum())
    return float(confusion.diagonal().sum()) / total if total > 0 else math.nan


# ---------------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------------


def topk_correct(logits: Tensor, target: Tensor, ks: Sequence[int] = (1, 5)) -> Tensor:
    """How many samples have their target class among the k highest scores, for each k.

    Args:
        logits: (B, C) scores (logits or probabilities; only the order matters).
        target: (B,) class indices, or (B, C) soft labels (mixup / label smoothing), reduced by argmax.
        ks: the k values; a k larger than C is clamped to C (every sample is then correct).

    Returns:
        (len(ks),) int64 counts on ``logits``' device; sum over batches, divide by the number of samples.
    """
    if logits.dim() != 2:
        raise ValueError(f"topk_correct needs (B, C) logits, got shape {tuple(logits.shape)}")
    batch, num_classes = logits.shape
    if target.dim() == 2:
        if target.shape != logits.shape:
            raise ValueError(
                f"topk_correct needs soft labels shaped like the logits {tuple(logits.shape)}, "
                f"got {tuple(target.shape)}"
            )
        target = target.argmax(1)
    elif target.shape != (batch,):
        raise ValueError(f"topk_correct needs (B,) or (B, C) targets, got shape {tuple(target.shape)}")
    if not ks or min(ks) < 1:
        raise ValueError(f"topk_correct needs k values >= 1, got {tuple(ks)}")
    ks_clamped = [min(k, num_classes) for k in ks]
    top = logits.topk(max(ks_clamped), dim=1).indices  # (B, max k), best first
    hits = (top == target.to(top.device).long().unsqueeze(1)).cumsum(1) > 0  # (B, max k): hit within top j+1
    return torch.stack([hits[:, k - 1].sum() for k in ks_clamped]).long()


# ---------------------------------------------------------------------------------------------------------
# Super-resolution
# ---------------------------------------------------------------------------------------------------------

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # ITU-R BT.601 luma for RGB in [0, 1], output in [16, 235]


def rgb_to_y(image: Tensor) -> Tensor:
    """BT.601 luma as MATLAB's ``rgb2ycbcr`` (and SR papers) compute it: 16 + 65.481 R + 128.553 G + 24.966 B.

    Args:
        image: (..., 3, H, W) RGB, float in [0, 1].

    Returns:
        (..., 1, H, W) float64 Y on the 0-255 scale (16 for black, 235 for white), not rounded to integers.
    """
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f"rgb_to_y needs (..., 3, H, W) images, got shape {tuple(image.shape)}")
    weights = torch.tensor(_Y_WEIGHTS, dtype=torch.float64, device=image.device).view(3, 1, 1)
    return 16.0 + (image.double() * weights).sum(-3, keepdim=True)


def crop_border(image: Tensor, border: int) -> Tensor:
    """Drop ``border`` pixels from each side of the last two (H, W) dimensions; 0 returns the input."""
    if border < 0:
        raise ValueError(f"crop_border needs border >= 0, got {border}")
    if border == 0:
        return image
    height, width = image.shape[-2:]
    if 2 * border >= min(height, width):
        raise ValueError(f"crop_border: border {border} leaves nothing of a {height}x{width} image")
    return image[..., border : height - border, border : width - border]


def _check_pair(name: str, pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name} needs images of equal shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.dim() != 4:
        raise ValueError(f"{name} needs (B, C, H, W) images, got shape {tuple(pred.shape)}")


def psnr(pred: Tensor, target: Tensor, *, data_range: float = 255.0) -> Tensor:
    """Peak signal-to-noise ratio per image, 10 log10(data_range^2 / MSE), in dB.

    Args:
        pred, target: (B, C, H, W) on the scale given by ``data_range``.
        data_range: the peak value (255 for 8-bit scale, 1 for [0, 1]).

    Returns:
        (B,) float64; an image identical to its target gives +inf (average with care, or count it apart).
    """
    _check_pair("psnr", pred, target)
    mse = (pred.double() - target.to(pred.device).double()).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)  # mse == 0 -> division gives inf -> +inf dB


def _gaussian_window(size: int, sigma: float, device: torch.device) -> Tensor:
    coords = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    window = torch.exp(-(coords**2) / (2 * sigma**2))
    return window / window.sum()  # (size,); the 2-D window is its outer product, which also sums to one


def ssim(pred: Tensor, target: Tensor, *, data_range: float = 255.0) -> Tensor:
    """Structural similarity per image (Wang et al., IEEE TIP 2004) as MATLAB ``ssim`` and BasicSR compute it.

    An 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, population statistics, 'valid' filtering (no
    padding, so the map is 10 pixels smaller in H and W), mean over the map and the channels; in float64.

    Args:
        pred, target: (B, C, H, W) on the scale given by ``data_range``, H and W at least 11.
        data_range: the peak value (255 for 8-bit scale, 1 for [0, 1]).

    Returns:
        (B,) float64; 1 for identical images.
    """
    _check_pair("ssim", pred, target)
    batch, channels, height, width = pred.shape
    size, sigma = 11, 1.5
    if min(height, width) < size:
        raise ValueError(f"ssim needs images of at least {size}x{size}, got {height}x{width}")
    x = pred.double().reshape(batch * channels, 1, height, width)  # filter every channel alone
    y = target.to(pred.device).double().reshape(batch * channels, 1, height, width)
    window = _gaussian_window(size, sigma, x.device)
    rows, cols = window.view(1, 1, size, 1), window.view(1, 1, 1, size)

    def blur(t: Tensor) -> Tensor:  # separable Gaussian, 'valid': (N, 1, H - 10, W - 10)
        return F.conv2d(F.conv2d(t, rows), cols)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.square()
    var_y = blur(y * y) - mu_y.square()
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2)
    )
    return ssim_map.reshape(batch, -1).mean(1)  # over channels and map


def sr_psnr_ssim(sr: Tensor, hr: Tensor, *, scale: int) -> tuple[Tensor, Tensor]:
    """PSNR and SSIM per image under the usual SR benchmark protocol (Set5, Set14, B100, Urban100, ...).

    Steps: clamp ``sr`` to [0, 1]; quantise both to 8 bits (round(x * 255) / 255, as saved PNGs would be);
    BT.601 luma (:func:`rgb_to_y`, 0-255 scale, kept fractional as BasicSR does; MATLAB's ``rgb2ycbcr`` on
    uint8 images also rounds Y to integers, which shifts results slightly); crop ``scale`` pixels of border;
    :func:`psnr` and :func:`ssim` with data range 255.

    Args:
        sr: (B, 3, H, W) super-resolved RGB, float, nominally [0, 1].
        hr: (B, 3, H, W) ground-truth RGB in [0, 1].
        scale: the upscaling factor, also the border width cropped.

    Returns:
        (psnr, ssim), each (B,) float64.
    """
    _check_pair("sr_psnr_ssim", sr, hr)
    if sr.shape[1] != 3:
        raise ValueError(f"sr_psnr_ssim needs RGB (B, 3, H, W) images, got shape {tuple(sr.shape)}")

    def to_y(image: Tensor) -> Tensor:
        quantised = torch.round(image.double().clamp(0.0, 1.0) * 255.0) / 255.0
        return crop_border(rgb_to_y(quantised), scale)  # (B, 1, H - 2 scale, W - 2 scale)

    sr_y, hr_y = to_y(sr), to_y(hr.to(sr.device))
    return psnr(sr_y, hr_y, data_range=255.0), ssim(sr_y, hr_y, data_range=255.0)
