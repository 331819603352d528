"""Shared pieces of inference: input checks, normalisation, and a model's metadata, device and dtype."""

from __future__ import annotations

import torch
from torch import nn

from efficientvit.tasks.registry import require_task
from efficientvit.zoo import ModelInfo

__all__ = ["check_image", "model_info", "model_placement", "require_task"]


def check_image(image: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``image`` is a uint8 tensor of shape (3, H, W) with H, W >= 1."""
    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8:
        kind = image.dtype if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"expected a uint8 image tensor (efficientvit.data.images.read_image), got {kind}")
    if image.ndim != 3 or image.shape[0] != 3 or image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"expected an image of shape (3, H, W), got {tuple(image.shape)}")


def model_info(model: nn.Module, task: str) -> ModelInfo:
    """The registry metadata ``create_model`` attached to ``model``, checked to be of ``task``."""
    info = getattr(model, "info", None)
    if not isinstance(info, ModelInfo):
        raise ValueError("model has no `info` metadata; build it with efficientvit.create_model")
    return require_task(info, task)


def model_placement(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of ``model``'s parameters (CPU float32 for a parameterless model)."""
    parameter = next(model.parameters(), None)
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype
