"""segment-anything's ``ResizeLongestSide`` for EfficientViT-SAM's two frames: ``predictor.transform``.

Code written for segment-anything resizes images with ``predictor.transform.apply_image`` before
``set_torch_image`` and maps prompts with ``apply_coords`` / ``apply_boxes`` (and their ``_torch`` forms)
before ``predict_torch``. EfficientViT-SAM's prompts live in segment-anything's 1024 frame, but L models
encode 512x512 images: so the ``apply_image`` methods resize to the encoder's side (``encoder_side``: 512 for
L models, 1024 for XL models) and the ``apply_coords`` / ``apply_boxes`` methods map to the 1024 prompt frame
(``target_length``). For XL models both frames are segment-anything's.

The prompt methods take the original (H, W) as segment-anything's do; when it is left out, the predictor's
current image size is used, as the official EfficientViT predictor does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import deepcopy

import numpy as np
import torch
import torch.nn.functional as F

from efficientvit.errors import NoImageError
from efficientvit.models.sam.model import PROMPT_FRAME
from efficientvit.tasks.sam import preprocess_shape, resize_longest_side

__all__ = ["ResizeLongestSide"]

Size = Sequence[int]


class ResizeLongestSide:
    """Images to the encoder's frame and prompts to the 1024 prompt frame (see the module's docstring)."""

    target_length = PROMPT_FRAME

    def __init__(self, encoder_side: int, current_size: Callable[[], tuple[int, int] | None]) -> None:
        self.encoder_side = encoder_side
        self._current_size = current_size

    @staticmethod
    def get_preprocess_shape(oldh: int, oldw: int, long_side_length: int) -> tuple[int, int]:
        """(h, w) with the longest side ``long_side_length`` (segment-anything's rounding)."""
        return preprocess_shape(oldh, oldw, long_side_length)

    # ---------------------------------------------------------------- images

    def apply_image(self, image: np.ndarray) -> np.ndarray:
        """An (H, W, 3) uint8 image resized to the encoder's frame as ``set_image`` does (PIL bilinear)."""
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)  # (3, H, W)
        return resize_longest_side(pixels, self.encoder_side).permute(1, 2, 0).numpy()  # (h, w, 3)

    def apply_image_torch(self, image: torch.Tensor) -> torch.Tensor:
        """A (B, C, H, W) float batch resized to the encoder's frame (bilinear, antialiased, as
        segment-anything's ``apply_image_torch``)."""
        size = preprocess_shape(image.shape[2], image.shape[3], self.encoder_side)
        return F.interpolate(image, size, mode="bilinear", align_corners=False, antialias=True)

    # --------------------------------------------------------------- prompts

    def _scale(self, original_size: Size | None) -> tuple[float, float]:
        """(x, y) factors from original pixels to the prompt frame."""
        if original_size is None:
            original_size = self._current_size()
            if original_size is None:
                raise NoImageError("no image is set: pass original_size, or call set_image first")
        old_h, old_w = int(original_size[0]), int(original_size[1])
        new_h, new_w = preprocess_shape(old_h, old_w, self.target_length)
        return new_w / old_w, new_h / old_h

    def apply_coords(self, coords: np.ndarray, original_size: Size | None = None) -> np.ndarray:
        """(..., 2) (x, y) pixels of an image of ``original_size`` (H, W) to the prompt frame."""
        sx, sy = self._scale(original_size)
        coords = deepcopy(coords).astype(float)
        coords[..., 0] = coords[..., 0] * sx
        coords[..., 1] = coords[..., 1] * sy
        return coords

    def apply_boxes(self, boxes: np.ndarray, original_size: Size | None = None) -> np.ndarray:
        """(B, 4) (x0, y0, x1, y1) pixel boxes to the prompt frame."""
        return self.apply_coords(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)

    def apply_coords_torch(self, coords: torch.Tensor, original_size: Size | None = None) -> torch.Tensor:
        """:meth:`apply_coords` for tensors (float32 result, on the input's device)."""
        sx, sy = self._scale(original_size)
        coords = coords.detach().clone().to(torch.float)
        coords[..., 0] = coords[..., 0] * sx
        coords[..., 1] = coords[..., 1] * sy
        return coords

    def apply_boxes_torch(self, boxes: torch.Tensor, original_size: Size | None = None) -> torch.Tensor:
        """:meth:`apply_boxes` for tensors."""
        return self.apply_coords_torch(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)
