"""EfficientViT-SAM's pre- and post-processing: the encoder's input (resize the longest side, normalise,
pad to a square) and masks from the decoder's 256x256 logits back to the image's size.

Prompts live in segment-anything's 1024x1024 frame for every model; L models encode 512x512 images and XL
models 1024x1024 (``info.resolution``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from efficientvit.models.sam.model import PROMPT_FRAME
from efficientvit.tasks.common import standardize_

__all__ = ["LOW_RES", "postprocess_masks", "preprocess", "preprocess_shape"]

LOW_RES = 256
"""Side of the mask decoder's low-resolution logits."""


def preprocess_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) of an image resized so that its longest side is ``long_side`` (segment-anything's rounding)."""
    scale = long_side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def preprocess(
    pixels: torch.Tensor, side: int, mean: Sequence[float], std: Sequence[float]
) -> tuple[torch.Tensor, tuple[int, int]]:
    """The encoder's (1, 3, side, side) input from a uint8 (3, H, W) image, and the (h, w) the image takes
    in it: resized (bilinear, antialiased) so its longest side is ``side``, normalised, zero-padded at the
    bottom and right (zeros after normalisation, as in segment-anything)."""
    height, width = pixels.shape[-2:]
    size = preprocess_shape(height, width, side)
    x = pixels.to(torch.float32)[None] / 255.0  # (1, 3, H, W) in [0, 1]
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    x = standardize_(x, mean, std)
    return F.pad(x, (0, side - size[1], 0, side - size[0])), size  # (1, 3, side, side)


def postprocess_masks(low_res: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
    """(B, C, 256, 256) logits to (B, C, H, W) logits at ``original_size``.

    Upsampled to the 1024 prompt frame, cropped to the part the image covers there, resized to (H, W).
    """
    height, width = original_size
    frame_h, frame_w = preprocess_shape(height, width, PROMPT_FRAME)
    masks = F.interpolate(low_res, (PROMPT_FRAME, PROMPT_FRAME), mode="bilinear", align_corners=False)
    masks = masks[..., :frame_h, :frame_w]  # (B, C, h', w'): drop the padding
    return F.interpolate(masks, (height, width), mode="bilinear", align_corners=False)
