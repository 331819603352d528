"""ImageNet classification's pre- and post-processing: the official evaluation preprocessing and top-k.

``efficientvit.inference.classify`` and the evaluation transform (``efficientvit.data.transforms``) both use
:func:`preprocess`, so a file classified from Python and an image of an evaluation split go through the
same steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.tasks.common import normalize
from efficientvit.tasks.registry import Task, Transforms

if TYPE_CHECKING:
    from efficientvit.train.config import TrainConfig
    from efficientvit.train.tasks import TaskSpec
    from efficientvit.zoo import ModelInfo

__all__ = ["MAX_ASPECT", "TASK", "preprocess", "top_k_labels"]

MAX_ASPECT = 3.0
"""Images more elongated than this are centre-cropped to it first; the final crop never reaches the rest."""


def preprocess(
    image: torch.Tensor,
    resolution: tuple[int, int],
    *,
    crop_ratio: float,
    mean: Sequence[float],
    std: Sequence[float],
) -> torch.Tensor:
    """A uint8 (3, H, W) image to the model's float (3, h, w) input: resize, centre-crop, normalise.

    The shorter side is resized to ``ceil(max(resolution) / crop_ratio)`` (bicubic, antialiased), the centre
    ``resolution`` is cropped, and the result is scaled to [0, 1] and normalised with ``mean`` / ``std``.
    Extremely elongated images (beyond 3:1) are centre-cropped to 3:1 before resizing to keep memory
    bounded; the pixels dropped lie far outside the final crop.
    """
    if not 0 < crop_ratio <= 1:
        raise ValueError(f"crop_ratio must be in (0, 1], got {crop_ratio}")
    height, width = image.shape[-2:]
    limit = math.ceil(MAX_ASPECT * min(height, width))
    if max(height, width) > limit:
        image = TF.center_crop(image, [min(height, limit), min(width, limit)])
    size = math.ceil(max(resolution) / crop_ratio)
    image = TF.resize(image, [size], interpolation=InterpolationMode.BICUBIC, antialias=True)
    image = TF.center_crop(image, list(resolution))
    return normalize(image, mean, std)


def _label(names: Sequence[str], index: int) -> str:
    return names[index] if index < len(names) else f"class {index}"


def top_k_labels(logits: torch.Tensor, k: int, names: Sequence[str]) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable (label, probability) pairs of each row of (B, classes) ``logits``."""
    probs = logits.float().softmax(dim=-1)  # (B, classes)
    top = probs.topk(min(k, probs.shape[-1]), dim=-1)  # values and indices: (B, k), sorted descending
    return [
        [(_label(names, i), p) for i, p in zip(indices, values, strict=True)]
        for values, indices in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ]


# The task: what the registry (efficientvit.tasks.registry) asks of classification.


def _build_model(info: ModelInfo) -> nn.Module:
    from efficientvit.models import build_classifier

    return build_classifier(info.backbone, info.head)  # type: ignore[arg-type]


def _training(*, label_smoothing: float = 0.1, **_: Any) -> TaskSpec:
    from efficientvit.train.tasks import classification_task

    return classification_task(label_smoothing=label_smoothing)


def _transforms(config: TrainConfig, info: ModelInfo, layout: str, protocol: str) -> Transforms:
    from efficientvit.data.transforms import classification_eval_transform, classification_train_transform
    from efficientvit.zoo import CLS_CROP_RATIO

    size = config.resolution or max(info.resolution)
    train = classification_train_transform(size, mean=info.mean, std=info.std, randaugment=config.randaugment)
    crop_ratio = info.crop_ratio or CLS_CROP_RATIO
    evaluation = classification_eval_transform(size, crop_ratio=crop_ratio, mean=info.mean, std=info.std)
    return train, evaluation


def _batch_transform(config: TrainConfig, num_classes: int) -> Callable[..., Any] | None:
    if config.mixup_alpha <= 0 and config.cutmix_alpha <= 0:
        return None
    from efficientvit.data.transforms import classification_batch_transform

    return classification_batch_transform(
        num_classes, mixup_alpha=config.mixup_alpha, cutmix_alpha=config.cutmix_alpha
    )


def _summary_table(metrics: dict[str, Any], class_names: Sequence[str]) -> str:
    from efficientvit.train.report import number, table

    return table(
        [
            ("metric", "value"),
            ("top-1 (%)", number(metrics["top1"])),
            ("top-5 (%)", number(metrics["top5"])),
        ]
    )


def _entry_call(model: nn.Module, image: torch.Tensor, backend: str) -> Callable[[], object]:
    from efficientvit.inference import classify

    return lambda: classify(model, [image], backend=backend)


TASK = Task(
    name="cls",
    title="classification",
    pipeline_tag="image-classification",
    graphs=("classifier",),
    build_model=_build_model,
    labels_classes=True,
    export_parts=("encoder",),
    batched_evaluation=True,
    training=_training,
    transforms=_transforms,
    batch_transform=_batch_transform,
    summary_table=_summary_table,
    entry="classify()",
    entry_steps="resize, crop, normalise, model, top-5",
    entry_call=_entry_call,
)
