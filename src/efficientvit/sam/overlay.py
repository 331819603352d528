"""Pictures of SAM masks: each mask blended into the image in its own colour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from efficientvit.inference.segmentation import row_blocks

__all__ = ["PackedMask", "overlay_masks"]


class RowSliceable(Protocol):
    """An (H, W) mask whose rows can be sliced: a bool array or a :class:`PackedMask`."""

    def __getitem__(self, rows: slice) -> np.ndarray: ...


class PackedMask:
    """An (H, W) bool mask stored as bits (an eighth of a bool array), unpacked a block of rows at a time:
    many full-size masks of a large image (``sam --auto``) fit in memory while they are painted."""

    def __init__(self, mask: np.ndarray) -> None:
        self.width = mask.shape[1]
        self.bits = np.packbits(np.asarray(mask, dtype=bool), axis=1)  # (H, ceil(W / 8)) uint8

    def __getitem__(self, rows: slice) -> np.ndarray:
        return np.unpackbits(self.bits[rows], axis=1, count=self.width).view(bool)  # (h, W)


def overlay_masks(image: torch.Tensor, masks: Sequence[RowSliceable], alpha: float = 0.5) -> torch.Tensor:
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
