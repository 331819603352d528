"""ImageNet classification of uint8 images: the official evaluation preprocessing, batched top-k."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.inference.preprocess import check_image, model_info, model_placement, normalize
from efficientvit.zoo import ModelInfo

# Images more elongated than this are centre-cropped to it first; the final crop never reaches the rest.
_MAX_ASPECT = 3.0


def preprocess_classification(image: torch.Tensor, info: ModelInfo) -> torch.Tensor:
    """A uint8 (3, H, W) image to the model's float (3, h, w) input: resize, centre-crop, normalise.

    The shorter side is resized to ``ceil(max(resolution) / crop_ratio)`` (bicubic, antialiased), the centre
    ``resolution`` is cropped, and the result is scaled to [0, 1] and normalised with ``info.mean`` /
    ``info.std``. Extremely elongated images (beyond 3:1) are centre-cropped to 3:1 before resizing to keep
    memory bounded; the pixels dropped lie far outside the final crop.
    """
    check_image(image)
    if info.crop_ratio is None:
        raise ValueError(f"{info.name} is not a classification model (it has no crop_ratio)")
    height, width = image.shape[-2:]
    limit = math.ceil(_MAX_ASPECT * min(height, width))
    if max(height, width) > limit:
        image = TF.center_crop(image, [min(height, limit), min(width, limit)])
    size = math.ceil(max(info.resolution) / info.crop_ratio)
    image = TF.resize(image, [size], interpolation=InterpolationMode.BICUBIC, antialias=True)
    image = TF.center_crop(image, list(info.resolution))
    return normalize(image, info.mean, info.std)


def _label(names: Sequence[str], index: int) -> str:
    return names[index] if index < len(names) else f"class {index}"


def classify(
    model: nn.Module, images: Sequence[torch.Tensor], top_k: int = 5, *, batch_size: int = 32
) -> list[list[tuple[str, float]]]:
    """The ``top_k`` (label, probability) pairs of each uint8 (3, H, W) image, most probable first."""
    info = model_info(model, "cls")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    k = min(top_k, info.num_classes)
    names = info.class_names if len(info.class_names) == info.num_classes else ()
    device, dtype = model_placement(model)
    results: list[list[tuple[str, float]]] = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            batch = torch.stack([preprocess_classification(image.to(device), info) for image in chunk])
            probs = model(batch.to(dtype)).float().softmax(dim=-1)  # (B, num_classes)
            top = probs.topk(k, dim=-1)  # values and indices: (B, k), sorted descending
            for values, indices in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                results.append([(_label(names, i), p) for i, p in zip(indices, values, strict=True)])
    return results
