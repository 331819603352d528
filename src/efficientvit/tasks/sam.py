"""EfficientViT-SAM's pre- and post-processing: the encoder's input (resize the longest side, normalise,
pad to a square) and masks from the decoder's 256x256 logits back to the image's size.

Two frames: prompts live in segment-anything's 1024x1024 frame for every model, while L models encode
512x512 images and XL models 1024x1024 (``info.resolution``). The resize is the official predictor's: PIL's
bilinear filter on the uint8 image (antialiased when shrinking, rounded back to uint8), and none at all when
the longest side already has the encoder's size, so embeddings equal the official ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from efficientvit.models.sam.model import PROMPT_FRAME
from efficientvit.tasks.common import normalize
from efficientvit.tasks.registry import Task

if TYPE_CHECKING:
    from torch import nn

    from efficientvit.zoo import ModelInfo

__all__ = [
    "LOW_RES",
    "TASK",
    "binary_masks",
    "postprocess_masks",
    "preprocess",
    "preprocess_shape",
    "resize_longest_side",
]

LOW_RES = 256
"""Side of the mask decoder's low-resolution logits."""


def preprocess_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) of an image resized so that its longest side is ``long_side`` (segment-anything's rounding),
    never below one pixel (segment-anything would give 0 for a 1x5000 image)."""
    scale = long_side / max(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def resize_longest_side(pixels: torch.Tensor, side: int) -> torch.Tensor:
    """A uint8 (3, H, W) image resized so that its longest side is ``side``, as the official predictor does:
    PIL's bilinear filter (antialiased when shrinking), rounded to uint8; returned as it is when the longest
    side already is ``side``. The result is on the image's device."""
    height, width = pixels.shape[-2:]
    if max(height, width) == side:
        return pixels
    new_h, new_w = preprocess_shape(height, width, side)
    array = np.ascontiguousarray(pixels.permute(1, 2, 0).cpu().numpy())  # (H, W, 3)
    resized = Image.fromarray(array).resize((new_w, new_h), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.array(resized)).permute(2, 0, 1).to(pixels.device)  # (3, h, w)


def preprocess(
    pixels: torch.Tensor, side: int, mean: Sequence[float], std: Sequence[float]
) -> tuple[torch.Tensor, tuple[int, int]]:
    """The encoder's (1, 3, side, side) input from a uint8 (3, H, W) image, and the (h, w) the image takes
    in it: :func:`resize_longest_side`, scaled to [0, 1] and normalised, zero-padded at the bottom and right
    (zeros after normalisation, as in segment-anything)."""
    resized = resize_longest_side(pixels, side)  # (3, h, w) uint8
    height, width = resized.shape[-2:]
    x = normalize(resized[None].contiguous(), mean, std)  # (1, 3, h, w), NCHW whatever the image's strides
    return F.pad(x, (0, side - width, 0, side - height)), (height, width)  # (1, 3, side, side)


FULL_SIZE_BLOCK_VALUES = 1 << 24
"""Full-size float logits computed at once by :func:`binary_masks` (64 MB)."""


def postprocess_masks(low_res: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
    """(B, C, 256, 256) logits to (B, C, H, W) logits at ``original_size``.

    segment-anything's postprocessing (bilinear upsampling to the 1024 prompt frame, a crop to the part
    the image covers there, bilinear resizing to (H, W)) is linear and separable: it is computed as
    ``rows @ low_res @ columns`` with the two small matrices of :func:`_resize_matrix`, without the
    1024x1024 intermediate (equal to float32 rounding).
    """
    height, width = original_size
    frame_h, frame_w = preprocess_shape(height, width, PROMPT_FRAME)
    side = low_res.shape[-1]
    rows = _resize_matrix(side, frame_h, height, low_res.device, low_res.dtype)  # (H, 256)
    columns = _resize_matrix(side, frame_w, width, low_res.device, low_res.dtype)  # (W, 256)
    return rows @ low_res @ columns.T  # (B, C, H, W)


def binary_masks(
    low_res: torch.Tensor, original_size: tuple[int, int], threshold: float = 0.0
) -> torch.Tensor:
    """(B, C, 256, 256) logits to (B, C, H, W) bool masks at ``original_size``: ``postprocess_masks(...) >
    threshold``, computed in blocks of rows, so the full-size float logits (4 bytes a pixel per mask) never
    exist at once; only the bool masks do."""
    height, width = original_size
    frame_h, frame_w = preprocess_shape(height, width, PROMPT_FRAME)
    side = low_res.shape[-1]
    rows = _resize_matrix(side, frame_h, height, low_res.device, low_res.dtype)  # (H, 256)
    columns = _resize_matrix(side, frame_w, width, low_res.device, low_res.dtype)  # (W, 256)
    out = torch.empty((*low_res.shape[:-2], height, width), dtype=torch.bool, device=low_res.device)
    step = max(1, FULL_SIZE_BLOCK_VALUES // max(low_res[..., 0, 0].numel() * width, 1))
    for top in range(0, height, step):
        block = rows[top : top + step] @ low_res @ columns.T  # (B, C, h, W) logits, as postprocess_masks
        out[..., top : top + step, :] = block > threshold
    return out


@functools.lru_cache(maxsize=16)
def _resize_matrix(side: int, kept: int, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(size, side): one axis of :func:`postprocess_masks` as a matrix, found by resizing the unit signals
    as ``F.interpolate`` resizes that axis (bilinear upsampling from ``side`` to the prompt frame, the first
    ``kept`` values, resizing to ``size``). Built in float32 on the CPU, whose interpolation weights are
    those of segment-anything's float32 postprocessing. The cached matrix is an ordinary tensor even when
    first built under ``torch.inference_mode``, so fine-tuning after prediction can use it."""
    with torch.inference_mode(False), torch.no_grad():
        units = torch.eye(side)[None]  # (1, side, side): channel i is the i-th unit signal
        frame = F.interpolate(units, PROMPT_FRAME, mode="linear", align_corners=False)[..., :kept]
        resized = F.interpolate(frame, size, mode="linear", align_corners=False)  # (1, side, size)
        return resized[0].T.to(device, dtype).contiguous()


# The task: what the registry (efficientvit.tasks.registry) asks of segment-anything.


def _build_model(info: ModelInfo) -> nn.Module:
    from efficientvit.models.sam import build_sam

    return build_sam(info.backbone, info.head)  # type: ignore[arg-type]


def _entry_call(model: nn.Module, image: torch.Tensor, backend: str) -> Callable[[], object]:
    from efficientvit.sam import SamPredictor

    predictor = SamPredictor(model, backend=backend)
    array = image.permute(1, 2, 0).numpy()  # (H, W, 3) uint8, as segment-anything's predictor takes it
    return lambda: predictor.set_image(array)


TASK = Task(
    name="sam",
    title="segment-anything",
    pipeline_tag="mask-generation",
    graphs=("sam_image_encoder", "sam_prompt_decoder"),
    build_model=_build_model,
    fixed_frame=True,
    export_parts=("encoder", "decoder"),
    entry="SamPredictor.set_image()",
    entry_steps="resize, normalise, pad, image encoder",
    entry_call=_entry_call,
)
