"""Semantic segmentation of a uint8 image of any size, and colour renderings of label maps."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from efficientvit.inference.preprocess import check_image, model_info, model_placement
from efficientvit.runtime import runner_for
from efficientvit.tasks.segmentation import (
    MAX_FULL_SIZE_LOGITS,
    SIZE_DIVISOR,
    check_working_sides,
    normalize,
    predict_labels,
    resize_image,
    working_size,
)

__all__ = ["MAX_FULL_SIZE_LOGITS", "colorize", "overlay", "row_blocks", "segment", "working_size"]

Palette = Sequence[Sequence[int]]


def segment(
    model: nn.Module,
    image: torch.Tensor,
    *,
    short_side: int | None = None,
    max_side: int | None = None,
    backend: str | None = "auto",
) -> torch.Tensor:
    """The (H, W) label map of a uint8 (3, H, W) image of any size, on the image's device.

    The image is resized (bilinear, antialiased) so its shorter side is ``short_side`` (default: the shorter
    side of the model's resolution, 1024 for Cityscapes and 512 for ADE20K) unless the longer side would then
    exceed ``max_side`` (default: twice the longer side of the resolution), normalised, zero-padded at the
    bottom and right to a multiple of ``model.size_divisor``, and segmented. The stride-8 logits are upsampled
    bilinearly to the padded size and the padding cropped. To return to the original size, logits are
    resized bilinearly when ``classes * H * W <= MAX_FULL_SIZE_LOGITS`` (the accurate path); for larger
    images the argmax is taken at the working size and the label map resized with nearest neighbours, so
    memory stays bounded whatever the input size. Labels are uint8 for up to 256 classes, else int64.

    ``backend`` runs the model through :func:`efficientvit.runtime.runner_for`: ``"auto"`` (the fastest
    exact backend for the model's device; on a CPU our ONNX export in ONNX Runtime, prepared once),
    ``"eager"``, ``"fused"``, ``"compile"`` or ``"onnxruntime"``; ``$EFFICIENTVIT_BACKEND`` overrides
    ``auto``.
    """
    info = model_info(model, "seg")
    check_image(image)
    check_working_sides(short_side, max_side)
    device, dtype = model_placement(model)
    divisor = int(getattr(model, "size_divisor", SIZE_DIVISOR))
    height, width = image.shape[-2:]
    size = working_size(
        height, width, short_side or min(info.resolution), max_side or 2 * max(info.resolution)
    )
    run = runner_for(model, "segmenter", backend)
    with torch.inference_mode():
        x = normalize(resize_image(image.to(device), size), info.mean, info.std)  # (3, h, w)
        labels = predict_labels(lambda batch: run(batch.to(dtype)), x[None], (height, width), divisor=divisor)
    label_dtype = torch.uint8 if info.num_classes <= 256 else torch.int64
    return labels[0].to(device=image.device, dtype=label_dtype)


OVERLAY_BLOCK_PIXELS = 1 << 20
"""Pixels blended per step by :func:`overlay` and :func:`colorize`, so that their float32 intermediates stay
near 12 MB whatever the image size (a whole 8000x8000 image in float32 is 768 MB per copy)."""


def row_blocks(height: int, width: int) -> range:
    """First rows of blocks of about ``OVERLAY_BLOCK_PIXELS`` pixels covering an image (``.step`` rows)."""
    return range(0, height, max(1, OVERLAY_BLOCK_PIXELS // max(width, 1)))


def colorize(labels: torch.Tensor, palette: Palette) -> torch.Tensor:
    """A uint8 (3, H, W) rendering of an (H, W) label map; labels outside the palette (e.g. 255) are black."""
    table = torch.tensor([*palette, (0, 0, 0)], dtype=torch.uint8, device=labels.device)  # (K + 1, 3)
    height, width = labels.shape
    out = torch.empty((3, height, width), dtype=torch.uint8, device=labels.device)
    step = row_blocks(height, width).step
    for top in row_blocks(height, width):
        index = labels[top : top + step].long()
        index = torch.where((index >= 0) & (index < len(palette)), index, len(palette))
        out[:, top : top + step] = table[index].permute(2, 0, 1)  # (h, W, 3) -> (3, h, W)
    return out


def overlay(image: torch.Tensor, labels: torch.Tensor, palette: Palette, alpha: float = 0.5) -> torch.Tensor:
    """The image blended with its colourised label map: ``(1 - alpha) * image + alpha * colours``, uint8;
    computed in blocks of rows, so memory stays bounded for images of any size."""
    check_image(image)
    if tuple(labels.shape) != tuple(image.shape[-2:]):
        raise ValueError(f"labels {tuple(labels.shape)} do not match image {tuple(image.shape[-2:])}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    labels = labels.to(image.device)
    height, width = labels.shape
    out = torch.empty_like(image)
    step = row_blocks(height, width).step
    for top in row_blocks(height, width):
        rows = slice(top, top + step)
        colours = colorize(labels[rows], palette).float()  # (3, h, W)
        blended = image[:, rows].float() * (1.0 - alpha) + colours * alpha
        out[:, rows] = blended.round_().clamp_(0, 255).to(torch.uint8)
    return out
