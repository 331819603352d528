"""ImageNet classification of uint8 images: the official evaluation preprocessing, batched top-k."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from efficientvit.inference.preprocess import check_image, model_info, model_placement
from efficientvit.runtime import one_torch_thread_before, runner_for
from efficientvit.tasks import classification
from efficientvit.zoo import ModelInfo

__all__ = ["classify", "preprocess_classification"]


def preprocess_classification(image: torch.Tensor, info: ModelInfo) -> torch.Tensor:
    """A uint8 (3, H, W) image to ``info``'s float (3, h, w) input (:func:`efficientvit.tasks.classification.
    preprocess` with the model's resolution, crop ratio, mean and std)."""
    check_image(image)
    if info.crop_ratio is None:
        raise ValueError(f"{info.name} is not a classification model (it has no crop_ratio)")
    return classification.preprocess(
        image, info.resolution, crop_ratio=info.crop_ratio, mean=info.mean, std=info.std
    )


def classify(
    model: nn.Module,
    images: Sequence[torch.Tensor],
    top_k: int = 5,
    *,
    batch_size: int = 32,
    backend: str | None = "auto",
) -> list[list[tuple[str, float]]]:
    """The ``top_k`` (label, probability) pairs of each uint8 (3, H, W) image, most probable first.

    ``backend`` as in :func:`efficientvit.inference.segment` (default ``"auto"``: the fastest exact backend).
    """
    info = model_info(model, "cls")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    names = info.class_names if len(info.class_names) == info.num_classes else ()
    device, dtype = model_placement(model)
    run = runner_for(model, "classifier", backend)
    results: list[list[tuple[str, float]]] = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            with one_torch_thread_before(run):
                batch = torch.stack([preprocess_classification(image.to(device), info) for image in chunk])
            results.extend(classification.top_k_labels(run(batch.to(dtype)), top_k, names))
    return results
