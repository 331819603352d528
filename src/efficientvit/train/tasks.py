"""What differs between tasks, as small callables: the loss, the evaluation forward pass, and the metrics.

Evaluation accumulates per-batch *sums* (a confusion matrix, counts of correct answers, sums of PSNR) so
that the totals can be added across batches and processes before :attr:`TaskSpec.summarize` turns them into
the final numbers: the mIoU of a split is computed from one confusion matrix over all its pixels, never as
an average of per-image scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from efficientvit.data.common import IGNORE_INDEX
from efficientvit.metrics import (
    confusion_matrix,
    iou_from_confusion,
    pixel_accuracy,
    sr_psnr_ssim,
    topk_correct,
)
from efficientvit.tasks.registry import TaskName, get_task
from efficientvit.tasks.segmentation import (
    SIZE_DIVISOR,
    Protocol,
    check_protocol,
    predict_labels,
    upsample_logits,
)

__all__ = ["TaskName", "TaskSpec", "build_task", "classification_task", "segmentation_task", "sr_task"]


@dataclass(frozen=True)
class TaskSpec:
    """The task-specific pieces the shared training loop calls."""

    name: TaskName
    loss: Callable[[Tensor, Tensor], Tensor]
    """``loss(model_output, target)``: a scalar to minimise."""
    predict: Callable[[nn.Module, Tensor, Tensor], Tensor]
    """``predict(model, inputs, target)``: the output the metrics compare with ``target``."""
    batch_stats: Callable[[Tensor, Tensor, Tensor], Tensor]
    """``batch_stats(prediction, inputs, target)``: a 1-D float64 tensor of sums, added over the split."""
    summarize: Callable[[Tensor], dict[str, Any]]
    """The split's metrics from the summed stats."""
    primary_metric: str
    """The metric (higher is better) that selects the best checkpoint."""


def classification_task(*, label_smoothing: float = 0.1) -> TaskSpec:
    """ImageNet-style classification: cross-entropy (class or MixUp/CutMix soft targets), top-1/top-5."""

    def loss(logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)

    def stats(logits: Tensor, inputs: Tensor, target: Tensor) -> Tensor:
        correct = topk_correct(logits, target, ks=(1, 5)).to(torch.float64)
        count = torch.tensor([float(len(logits))], dtype=torch.float64, device=correct.device)
        return torch.cat([correct, count])

    def summarize(total: Tensor) -> dict[str, float | list[float]]:
        count = max(float(total[2]), 1.0)
        return {"top1": 100.0 * float(total[0]) / count, "top5": 100.0 * float(total[1]) / count}

    return TaskSpec("cls", loss, _forward, stats, summarize, primary_metric="top1")


def _forward(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
    return model(inputs)


def segmentation_task(
    num_classes: int, *, size_divisor: int = SIZE_DIVISOR, protocol: Protocol = "efficientvit"
) -> TaskSpec:
    """Semantic segmentation: per-pixel cross-entropy ignoring 255; mIoU from the split's confusion matrix.

    Evaluation predicts through :func:`efficientvit.tasks.segmentation.predict_labels` under ``protocol``
    (the logits resized to the label's own size before the argmax, so every dataset is scored at its original
    label resolution). The metrics hold the per-class ``intersection`` and ``union`` pixel counts too.
    """
    check_protocol(protocol)

    def loss(logits: Tensor, target: Tensor) -> Tensor:
        logits = upsample_logits(logits, tuple(target.shape[-2:]))  # (B, C, H, W) at the label size
        return F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)

    def predict(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        # The same path as efficientvit.inference.segment: (B, H, W) class indices at the label size.
        size = tuple(target.shape[-2:])
        return predict_labels(model, inputs, size, divisor=size_divisor, protocol=protocol)

    def stats(prediction: Tensor, inputs: Tensor, target: Tensor) -> Tensor:
        confusion = confusion_matrix(prediction, target, num_classes, ignore_index=IGNORE_INDEX)
        return confusion.flatten().to(torch.float64)  # exact: counts stay far below 2**53

    def summarize(total: Tensor) -> dict[str, Any]:
        confusion = total.round().to(torch.int64).view(num_classes, num_classes)
        iou = iou_from_confusion(confusion)
        intersection = confusion.diagonal()
        union = confusion.sum(0) + confusion.sum(1) - intersection
        return {
            "mIoU": 100.0 * float(iou.nanmean()),
            "pixel_acc": 100.0 * float(pixel_accuracy(confusion)),
            "per_class_iou": [100.0 * float(v) for v in iou],
            "intersection": [int(v) for v in intersection],
            "union": [int(v) for v in union],
        }

    return TaskSpec("seg", loss, predict, stats, summarize, primary_metric="mIoU")


def sr_task(scale: int) -> TaskSpec:
    """Super-resolution: L1 loss; PSNR/SSIM on the Y channel with a ``scale``-pixel border cropped, for the
    model and for bicubic upscaling of the same low-resolution input."""

    def loss(output: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(output.float(), target)

    def predict(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        return model(inputs).float().clamp(0.0, 1.0)

    def stats(output: Tensor, inputs: Tensor, target: Tensor) -> Tensor:
        bicubic = F.interpolate(inputs.float(), size=target.shape[-2:], mode="bicubic", align_corners=False)
        psnr, ssim = sr_psnr_ssim(output, target, scale=scale)
        bic_psnr, bic_ssim = sr_psnr_ssim(bicubic.clamp(0.0, 1.0), target, scale=scale)
        count = torch.tensor(float(len(target)), dtype=torch.float64, device=psnr.device)
        return torch.stack([psnr.sum(), ssim.sum(), bic_psnr.sum(), bic_ssim.sum(), count]).to(torch.float64)

    def summarize(total: Tensor) -> dict[str, float | list[float]]:
        count = max(float(total[4]), 1.0)
        names = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")
        return {name: float(total[i]) / count for i, name in enumerate(names)}

    return TaskSpec("sr", loss, predict, stats, summarize, primary_metric="psnr")


def build_task(
    task: str,
    *,
    num_classes: int = 0,
    label_smoothing: float = 0.1,
    scale: int = 2,
    protocol: Protocol = "efficientvit",
) -> TaskSpec:
    """The :class:`TaskSpec` of the task named ``task`` (``protocol``: segmentation's evaluation protocol)."""
    definition = get_task(task)
    if definition.training is None:
        raise ValueError(f"the {definition.title} task is not trained here")
    return definition.training(
        num_classes=num_classes, label_smoothing=label_smoothing, scale=scale, protocol=protocol
    )
