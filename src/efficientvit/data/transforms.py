"""Training and evaluation transforms for every task, built on ``torchvision.transforms.v2``.

Classification and segmentation transforms are callables ``(image, target) -> (image, target)`` that take a
uint8 ``tv_tensors.Image`` (3, H, W) and an ``int`` label or an int64 ``tv_tensors.Mask`` (H, W), and return a
float32 image normalised with ``mean`` / ``std`` and the label, or an int64 mask aligned with the image
(255 = ignore). The super-resolution transform takes and returns one uint8 HR image; the dataset makes the
LR image from it and scales both to [0, 1].

All randomness is drawn from torch's global RNG (``torch.rand``/``randint``/distributions inside torchvision),
never from Python's ``random`` or NumPy, so seeding torch per sample makes augmentation reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.data.common import IGNORE_INDEX
from efficientvit.tasks.classification import preprocess
from efficientvit.tasks.common import normalize
from efficientvit.tasks.segmentation import resize_image, working_size

__all__ = [
    "classification_batch_transform",
    "classification_eval_transform",
    "classification_train_transform",
    "segmentation_eval_transform",
    "segmentation_train_transform",
    "super_resolution_train_transform",
]

JointTransform = Callable[[Any, Any], tuple[Any, Any]]


def _normalize(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    """uint8 image -> float32 in [0, 1] -> ``(x - mean) / std``; masks and labels pass through."""
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(mean), std=list(std))]


def _rewrap(output: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return tv_tensors.wrap(output, like=like) if isinstance(like, tv_tensors.TVTensor) else output


class _RandomScale:
    """Resize image (bilinear, antialiased) and mask (nearest, pixel-centre aligned) by one factor drawn
    from ``scale_range``."""

    def __init__(self, scale_range: tuple[float, float]) -> None:
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        self.low, self.high = float(low), float(high)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        factor = float(torch.empty(()).uniform_(self.low, self.high))
        height, width = image.shape[-2:]
        size = [max(1, round(height * factor)), max(1, round(width * factor))]
        image = TF.resize(image, size, interpolation=InterpolationMode.BILINEAR, antialias=True)
        mask = TF.resize(mask, size, interpolation=InterpolationMode.NEAREST_EXACT)
        return image, mask


class _PadToAtLeast:
    """Pad at the bottom/right to at least ``size`` (H, W): the image with 0, the mask with 255 (ignore)."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = image.shape[-2:]
        pad_h, pad_w = max(self.size[0] - height, 0), max(self.size[1] - width, 0)
        if pad_h or pad_w:
            padding = [0, 0, pad_w, pad_h]  # left, top, right, bottom
            image = TF.pad(image, padding, fill=0)
            mask = TF.pad(mask, padding, fill=IGNORE_INDEX)
        return image, mask


class _SegmentationInput:
    """The image as ``efficientvit.inference.segment`` prepares it (shorter side to ``short_side`` unless
    ``None``, bilinear antialiased, then normalised: :mod:`efficientvit.tasks.segmentation`); the mask is
    kept as it is."""

    def __init__(self, short_side: int | None, mean: Sequence[float], std: Sequence[float]) -> None:
        self.short_side, self.mean, self.std = short_side, mean, std

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.short_side is not None:
            height, width = image.shape[-2:]
            image = resize_image(image, working_size(height, width, self.short_side, math.inf))
        return _rewrap(normalize(image, self.mean, self.std), image), mask


def _mask_to_int64(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return image, _rewrap(mask.to(torch.int64), mask)


def classification_train_transform(
    resolution: int,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    scale: tuple[float, float] = (0.08, 1.0),
    randaugment: bool = True,
    hflip: bool = True,
) -> JointTransform:
    """Random-resized crop (bicubic) to ``resolution``, horizontal flip, RandAugment (2 ops, magnitude 9),
    normalise. Called as ``(image, label) -> (image, label)``."""
    steps: list[Callable[..., Any]] = [
        v2.RandomResizedCrop(resolution, scale=scale, interpolation=InterpolationMode.BICUBIC, antialias=True)
    ]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    if randaugment:
        steps.append(v2.RandAugment(num_ops=2, magnitude=9, interpolation=InterpolationMode.BILINEAR))
    return v2.Compose([*steps, *_normalize(mean, std)])


class _ClassificationInput:
    """The image as ``efficientvit.inference.classify`` prepares it
    (:mod:`efficientvit.tasks.classification`); the label is kept."""

    def __init__(
        self, resolution: int, crop_ratio: float, mean: Sequence[float], std: Sequence[float]
    ) -> None:
        self.resolution, self.crop_ratio, self.mean, self.std = resolution, crop_ratio, mean, std

    def __call__(self, image: torch.Tensor, label: Any) -> tuple[torch.Tensor, Any]:
        size = (self.resolution, self.resolution)
        pixels = preprocess(image, size, crop_ratio=self.crop_ratio, mean=self.mean, std=self.std)
        return _rewrap(pixels, image), label


def classification_eval_transform(
    resolution: int, *, crop_ratio: float, mean: Sequence[float], std: Sequence[float]
) -> JointTransform:
    """The official evaluation preprocessing (:func:`efficientvit.tasks.classification.preprocess`, as
    ``efficientvit.inference.classify`` uses it): shorter side to ``ceil(resolution / crop_ratio)`` (bicubic,
    antialiased), centre crop, normalise."""
    if not 0 < crop_ratio <= 1:
        raise ValueError(f"crop_ratio must be in (0, 1], got {crop_ratio}")
    return _ClassificationInput(resolution, crop_ratio, mean, std)


def classification_batch_transform(
    num_classes: int, *, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0
) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None:
    """MixUp or CutMix (one chosen at random per batch) on ``(images (B, 3, H, W) float, labels (B,) int64)``,
    returning the mixed images and soft labels (B, num_classes) float.

    An alpha of 0 disables that method; with both 0 this returns ``None`` (no batch transform: keep the
    integer labels, which ``cross_entropy`` accepts as well as soft ones).
    """
    if mixup_alpha < 0 or cutmix_alpha < 0:
        raise ValueError(f"alphas must be >= 0, got mixup_alpha={mixup_alpha}, cutmix_alpha={cutmix_alpha}")
    choices: list[v2.Transform] = []
    if mixup_alpha > 0:
        choices.append(v2.MixUp(alpha=mixup_alpha, num_classes=num_classes))
    if cutmix_alpha > 0:
        choices.append(v2.CutMix(alpha=cutmix_alpha, num_classes=num_classes))
    if not choices:
        return None
    return choices[0] if len(choices) == 1 else v2.RandomChoice(choices)


def segmentation_train_transform(
    crop_size: tuple[int, int],
    *,
    mean: Sequence[float],
    std: Sequence[float],
    scale_range: tuple[float, float] = (0.5, 2.0),
    hflip: bool = True,
    color_jitter: float = 0.0,
) -> JointTransform:
    """Random rescale by a factor in ``scale_range`` (image bilinear, mask nearest), random ``crop_size``
    (H, W) crop after padding at the bottom/right where smaller (image 0, mask 255), horizontal flip, colour
    jitter of brightness/contrast/saturation by ``color_jitter`` (image only; 0 = off), normalise.
    Called as ``(image, mask) -> (image, mask)``."""
    crop = (int(crop_size[0]), int(crop_size[1]))
    steps: list[Callable[..., Any]] = [_RandomScale(scale_range), _PadToAtLeast(crop), v2.RandomCrop(crop)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    if color_jitter > 0:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    return v2.Compose([*steps, *_normalize(mean, std), _mask_to_int64])


def segmentation_eval_transform(
    *, short_side: int | None, mean: Sequence[float], std: Sequence[float]
) -> JointTransform:
    """Resize the image so its shorter side is ``short_side`` (``None`` keeps it) and normalise.

    The mask is left at its original size: evaluation resizes the prediction to the label, as the official
    evaluation does. Called as ``(image, mask) -> (image, mask)``.
    """
    return v2.Compose([_SegmentationInput(short_side, mean, std), _mask_to_int64])


class _CheckAtLeast:
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        if height < self.size or width < self.size:
            raise ValueError(
                f"image is {height}x{width} (HxW), smaller than the {self.size}x{self.size} training patch; "
                "use a smaller patch size or remove the image"
            )
        return image


class _RandomRot90:
    """Rotate by ``k * 90`` degrees, ``k`` uniform in {0, 1, 2, 3}."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        k = int(torch.randint(0, 4, ()))
        return _rewrap(torch.rot90(image, k, dims=(-2, -1)), image) if k else image


def super_resolution_train_transform(patch_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Random ``patch_size`` square crop of a uint8 HR image (``ValueError`` if the image is smaller),
    horizontal flip, vertical flip and a random multiple of 90° rotation. Called as ``hr -> hr``."""
    if patch_size < 1:
        raise ValueError(f"patch_size must be >= 1, got {patch_size}")
    return v2.Compose(
        [
            _CheckAtLeast(patch_size),
            v2.RandomCrop(patch_size),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            _RandomRot90(),
        ]
    )
