"""Fine-tuning EfficientViT-SAM's prompt encoder and mask decoder on instance masks (e.g. COCO-format data).

The image encoder stays frozen (its embedding is computed without gradients, as in
:meth:`SamPredictor.set_image`); ground-truth boxes are the prompts, and the loss is segment-anything's mix
of focal and dice loss (20 : 1) on the mask logits at the image's own size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from efficientvit.sam.predictor import SamPredictor

__all__ = ["dice_loss", "finetune_step", "focal_loss", "mask_loss", "trainable_parameters"]

FOCAL_WEIGHT = 20.0
DICE_WEIGHT = 1.0


def focal_loss(logits: Tensor, target: Tensor, *, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Sigmoid focal loss (Lin et al., 2017), averaged over all pixels of all masks."""
    probability = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_true = probability * target + (1 - probability) * (1 - target)
    weight = alpha * target + (1 - alpha) * (1 - target)
    return (weight * (1 - p_true) ** gamma * bce).mean()


def dice_loss(logits: Tensor, target: Tensor, *, smooth: float = 1.0) -> Tensor:
    """1 - Dice coefficient of the soft masks, averaged over masks; (N, H, W) inputs."""
    probability = logits.sigmoid().flatten(1)  # (N, H*W)
    target = target.flatten(1)
    overlap = (probability * target).sum(1)
    return (1 - (2 * overlap + smooth) / (probability.sum(1) + target.sum(1) + smooth)).mean()


def mask_loss(logits: Tensor, target: Tensor) -> Tensor:
    """segment-anything's training loss: ``20 * focal + dice`` on (N, H, W) logits and {0, 1} targets."""
    target = target.to(logits.dtype)
    return FOCAL_WEIGHT * focal_loss(logits, target) + DICE_WEIGHT * dice_loss(logits, target)


def trainable_parameters(predictor: SamPredictor) -> list[torch.nn.Parameter]:
    """The prompt encoder's and mask decoder's parameters (the image encoder is frozen)."""
    model = predictor.model
    return [*model.prompt_encoder.parameters(), *model.mask_decoder.parameters()]


def finetune_step(
    predictor: SamPredictor, image: Tensor, boxes: Tensor, masks: Tensor, optimizer: torch.optim.Optimizer
) -> float:
    """One optimiser step on one image: uint8 (3, H, W), its (N, 4) XYXY boxes and (N, H, W) masks in pixels.

    Returns the loss before the step.
    """
    predictor.set_image(image)  # frozen encoder: no gradients
    with torch.enable_grad():
        low_res, _ = predictor.decode(None, None, predictor.transform_boxes(boxes), None, False)
        logits = predictor.postprocess_masks(low_res)  # (N, 1, H, W) at the image's size
        loss = mask_loss(logits[:, 0], masks.to(logits.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    optimizer.step()
    return float(loss.detach())
