"""Pictures of SAM masks: each mask blended into the image in its own colour."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from efficientvit.inference.segmentation import row_blocks

__all__ = ["overlay_masks"]


def overlay_masks(image: torch.Tensor, masks: Sequence[np.ndarray], alpha: float = 0.5) -> torch.Tensor:
    """``image`` (3, H, W) uint8 with each (H, W) bool mask blended in its own colour, later masks over
    earlier ones: ``(1 - alpha) * pixel + alpha * colour`` inside a mask, in float, rounded once at the end.
    Computed in blocks of rows, so memory stays bounded for images of any size."""
    colours = torch.randint(40, 256, (max(len(masks), 1), 3), generator=torch.Generator().manual_seed(0))
    height, width = image.shape[-2:]
    out = torch.empty_like(image)
    blocks = row_blocks(height, width)
    for top in blocks:
        rows = slice(top, top + blocks.step)
        blended = image[:, rows].float()  # (3, h, W)
        for mask, colour in zip(masks, colours, strict=False):
            region = torch.from_numpy(np.asarray(mask[rows], dtype=bool))  # (h, W)
            mixed = (1 - alpha) * blended + alpha * colour[:, None, None].float()
            blended = torch.where(region, mixed, blended)
        out[:, rows] = blended.round_().clamp_(0, 255).to(torch.uint8)
    return out
