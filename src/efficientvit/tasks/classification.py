"""ImageNet classification's pre- and post-processing: the official evaluation preprocessing and top-k.

``efficientvit.inference.classify`` and the evaluation transform (``efficientvit.data.transforms``) both use
:func:`preprocess`, so a file classified from Python and an image of an evaluation split go through the
same steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.tasks.common import normalize

__all__ = ["MAX_ASPECT", "preprocess", "top_k_labels"]

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
