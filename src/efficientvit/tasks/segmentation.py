"""Semantic segmentation's pre- and post-processing: working size, normalisation, padding to the size
divisor, and logits back to a label map at the image's own size.

:func:`predict_labels` is the one path from normalised images to label maps:
``efficientvit.inference.segment`` and the evaluation loop (``efficientvit.train.tasks.segmentation_task``)
both call it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.tasks.common import normalize

__all__ = [
    "MAX_FULL_SIZE_LOGITS",
    "SIZE_DIVISOR",
    "argmax_channels",
    "normalize",
    "pad_to_multiple",
    "predict_labels",
    "resize_image",
    "upsample_logits",
    "working_size",
]

SIZE_DIVISOR = 32
"""Segmenters take sides that are multiples of this (their deepest stage has stride 32)."""
MAX_FULL_SIZE_LOGITS = 2**26
"""Up to this many classes * H * W elements (256 MB in float32) logits are resized to the output size."""


def working_size(height: int, width: int, short_side: int, max_side: float) -> tuple[int, int]:
    """(h, w) with the shorter side ``short_side``, unless the longer one would then exceed ``max_side``."""
    scale = min(short_side / min(height, width), max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (…, 3, H, W) image resized to ``size`` (bilinear, antialiased; uint8 stays uint8)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return TF.resize(image, list(size), interpolation=InterpolationMode.BILINEAR, antialias=True)


def pad_to_multiple(x: torch.Tensor, divisor: int = SIZE_DIVISOR) -> torch.Tensor:
    """``x`` (…, H, W) zero-padded at the bottom and right to multiples of ``divisor``."""
    height, width = x.shape[-2:]
    return F.pad(x, (0, -width % divisor, 0, -height % divisor))


def upsample_logits(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, h, w) logits resized bilinearly to ``size``, in float32."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits.float()
    return F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=False)


def _nearest(labels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour resize of (B, h, w) label maps of any dtype to (height, width), centres aligned."""
    h, w = labels.shape[-2:]
    rows = ((torch.arange(height, device=labels.device) + 0.5) * (h / height)).long().clamp_(max=h - 1)
    cols = ((torch.arange(width, device=labels.device) + 0.5) * (w / width)).long().clamp_(max=w - 1)
    return labels[:, rows[:, None], cols[None, :]]


def argmax_channels(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(dim=1)`` of (B, C, H, W) logits as (B, H, W) int64, the first maximum winning as in
    ``torch.argmax``. One pass per class over (B, H, W) planes: ``torch.argmax`` over the channels of an NCHW
    tensor strides across memory and took 523 ms for 19 x 1024 x 2048 logits on 2 threads, this 122 ms."""
    classes = logits.shape[1]
    best = logits[:, 0].clone()  # (B, H, W)
    index = torch.zeros(
        best.shape, dtype=torch.uint8 if classes <= 256 else torch.int64, device=logits.device
    )
    for c in range(1, classes):
        channel = logits[:, c]
        index.masked_fill_(channel > best, c)
        torch.maximum(best, channel, out=best)
    return index.long()


def predict_labels(
    run: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    size: tuple[int, int],
    *,
    divisor: int = SIZE_DIVISOR,
) -> torch.Tensor:
    """The (B, H, W) int64 label maps at ``size`` of normalised (B, 3, h, w) ``images`` of any h, w.

    The images are padded to multiples of ``divisor`` and run (``run`` returns stride-8 logits); the logits
    are upsampled bilinearly to the padded size and the padding cropped. They are then resized bilinearly to
    ``size`` when ``classes * H * W <= MAX_FULL_SIZE_LOGITS`` before the argmax; beyond that the argmax is
    taken at (h, w) and the labels resized with nearest neighbours, so memory stays bounded.
    """
    height, width = images.shape[-2:]
    padded = pad_to_multiple(images, divisor)  # (B, 3, Hp, Wp)
    logits = upsample_logits(run(padded), tuple(padded.shape[-2:]))[..., :height, :width]  # (B, C, h, w)
    if (height, width) == tuple(size):
        return argmax_channels(logits)
    if logits.shape[1] * size[0] * size[1] <= MAX_FULL_SIZE_LOGITS:
        return argmax_channels(upsample_logits(logits, size))
    return _nearest(argmax_channels(logits), *size)
