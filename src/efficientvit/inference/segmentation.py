"""Semantic segmentation of a uint8 image of any size, and colour renderings of label maps."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.inference.preprocess import check_image, model_info, model_placement, normalize

# Up to this many classes * H * W elements (256 MB in float32) logits are resized to the original size.
MAX_FULL_SIZE_LOGITS = 2**26

Palette = Sequence[Sequence[int]]


def working_size(height: int, width: int, short_side: int, max_side: int) -> tuple[int, int]:
    """(h, w) with the shorter side ``short_side``, unless the longer one would then exceed ``max_side``."""
    scale = min(short_side / min(height, width), max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _nearest(labels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour resize of an (h, w) label map of any dtype to (height, width), centres aligned."""
    h, w = labels.shape
    rows = ((torch.arange(height, device=labels.device) + 0.5) * (h / height)).long().clamp_(max=h - 1)
    cols = ((torch.arange(width, device=labels.device) + 0.5) * (w / width)).long().clamp_(max=w - 1)
    return labels[rows[:, None], cols[None, :]]


def segment(
    model: nn.Module, image: torch.Tensor, *, short_side: int | None = None, max_side: int | None = None
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
    """
    info = model_info(model, "seg")
    check_image(image)
    device, dtype = model_placement(model)
    divisor = int(getattr(model, "size_divisor", 32))
    height, width = image.shape[-2:]
    h, w = working_size(
        height, width, short_side or min(info.resolution), max_side or 2 * max(info.resolution)
    )
    with torch.inference_mode():
        x = image.to(device)
        if (h, w) != (height, width):
            x = TF.resize(x, [h, w], interpolation=InterpolationMode.BILINEAR, antialias=True)
        x = F.pad(normalize(x, info.mean, info.std), (0, -w % divisor, 0, -h % divisor))  # (3, Hp, Wp)
        logits = model(x[None].to(dtype)).float()  # (1, classes, Hp / 8, Wp / 8)
        logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        logits = logits[..., :h, :w]  # (1, classes, h, w)
        if (h, w) == (height, width):
            labels = logits[0].argmax(dim=0)
        elif logits.shape[1] * height * width <= MAX_FULL_SIZE_LOGITS:
            full = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
            labels = full[0].argmax(dim=0)
        else:
            labels = _nearest(logits[0].argmax(dim=0), height, width)
    label_dtype = torch.uint8 if logits.shape[1] <= 256 else torch.int64
    return labels.to(device=image.device, dtype=label_dtype)


def colorize(labels: torch.Tensor, palette: Palette) -> torch.Tensor:
    """A uint8 (3, H, W) rendering of an (H, W) label map; labels outside the palette (e.g. 255) are black."""
    table = torch.tensor([*palette, (0, 0, 0)], dtype=torch.uint8, device=labels.device)  # (K + 1, 3)
    index = labels.long()
    index = torch.where((index >= 0) & (index < len(palette)), index, len(palette))
    return table[index].permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def overlay(image: torch.Tensor, labels: torch.Tensor, palette: Palette, alpha: float = 0.5) -> torch.Tensor:
    """The image blended with its colourised label map: ``(1 - alpha) * image + alpha * colours``, uint8."""
    check_image(image)
    if tuple(labels.shape) != tuple(image.shape[-2:]):
        raise ValueError(f"labels {tuple(labels.shape)} do not match image {tuple(image.shape[-2:])}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    colours = colorize(labels.to(image.device), palette).float()
    return (image.float() * (1.0 - alpha) + colours * alpha).round_().clamp_(0, 255).to(torch.uint8)
