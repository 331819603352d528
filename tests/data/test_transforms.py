"""Tests for efficientvit.data.transforms: shapes, dtypes, joint image/mask alignment, reproducibility."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision import tv_tensors

from efficientvit.data.labels import IMAGENET_MEAN, IMAGENET_STD
from efficientvit.data.transforms import (
    classification_batch_transform,
    classification_eval_transform,
    classification_train_transform,
    segmentation_eval_transform,
    segmentation_train_transform,
    super_resolution_train_transform,
)
from efficientvit.inference.classification import preprocess_classification
from efficientvit.zoo import get_model_info

NORM = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
# Far-apart colours (none black, the image padding colour): class k is drawn in COLOURS[k].
COLOURS = torch.tensor([[230, 30, 30], [30, 220, 40], [40, 40, 230], [240, 230, 40]], dtype=torch.float32)


def _image(height: int = 32, width: int = 64, seed: int = 0) -> tv_tensors.Image:
    generator = torch.Generator().manual_seed(seed)
    return tv_tensors.Image(torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator))


def _blocks(
    height: int = 32, width: int = 64, block: int = 8, seed: int = 0
) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """An image of uniform ``block`` squares of random classes, and its mask (the classes)."""
    generator = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, len(COLOURS), (height // block, width // block), generator=generator)
    mask = classes.repeat_interleave(block, 0).repeat_interleave(block, 1)  # (H, W)
    image = COLOURS[mask].permute(2, 0, 1).to(torch.uint8)  # (3, H, W)
    return tv_tensors.Image(image), tv_tensors.Mask(mask)


def _denormalise(image: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image * std + mean) * 255  # (3, H, W) in about [0, 255]


def _nearest_class(image: torch.Tensor) -> torch.Tensor:
    pixels = image.permute(1, 2, 0).reshape(-1, 3)  # (H*W, 3)
    return torch.cdist(pixels, COLOURS).argmin(dim=1).reshape(image.shape[1:])  # (H, W)


def _interior(mask: torch.Tensor) -> torch.Tensor:
    """Pixels whose 3x3 neighbourhood all has their label (away from boundaries)."""
    m = mask.float()[None, None]
    high = F.max_pool2d(m, 3, stride=1, padding=1)
    low = -F.max_pool2d(-m, 3, stride=1, padding=1)
    return (high == low)[0, 0]


def _torch_only(transform, *inputs):
    """Run ``transform`` twice under the same torch seed but different Python/NumPy seeds; assert equal."""
    outputs = []
    for other_seed in (1, 2):
        random.seed(other_seed)
        np.random.seed(other_seed)
        torch.manual_seed(123)
        outputs.append(transform(*inputs))
    return outputs


# ----------------------------------------------------------------------------------------------------------
# Classification


def test_classification_train_transform_shapes_and_reproducible() -> None:
    transform = classification_train_transform(24, **NORM)
    first, second = _torch_only(transform, _image(), 3)
    assert torch.equal(first[0], second[0]) and first[1] == second[1] == 3
    assert first[0].dtype == torch.float32 and tuple(first[0].shape) == (3, 24, 24)
    torch.manual_seed(7)
    other = transform(_image(), 3)[0]
    assert not torch.equal(first[0], other)
    plain = classification_train_transform(24, **NORM, randaugment=False, hflip=False, scale=(1.0, 1.0))
    assert tuple(plain(_image(), 0)[0].shape) == (3, 24, 24)


@pytest.mark.parametrize(("height", "width"), [(40, 64), (72, 50)])
def test_classification_eval_matches_inference_preprocess(height: int, width: int) -> None:
    info = dataclasses.replace(get_model_info("efficientvit-b1-r224"), resolution=(32, 32), crop_ratio=0.9)
    image = _image(height, width)
    expected = preprocess_classification(image.as_subclass(torch.Tensor), info)
    transform = classification_eval_transform(32, crop_ratio=0.9, mean=info.mean, std=info.std)
    actual, label = transform(image, 5)
    assert label == 5 and actual.dtype == torch.float32
    torch.testing.assert_close(actual.as_subclass(torch.Tensor), expected, rtol=0, atol=1e-5)


def test_classification_batch_transform() -> None:
    images = torch.rand(4, 3, 16, 16)
    labels = torch.tensor([0, 1, 2, 3])
    transform = classification_batch_transform(5)
    assert transform is not None
    first, second = _torch_only(transform, images, labels)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    mixed, soft = first
    assert tuple(mixed.shape) == (4, 3, 16, 16) and tuple(soft.shape) == (4, 5)
    assert soft.dtype == torch.float32
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(4))
    assert classification_batch_transform(5, mixup_alpha=0.0, cutmix_alpha=0.0) is None
    only_mixup = classification_batch_transform(5, cutmix_alpha=0.0)
    assert only_mixup is not None and tuple(only_mixup(images, labels)[1].shape) == (4, 5)


# ----------------------------------------------------------------------------------------------------------
# Segmentation


@pytest.mark.parametrize("seed", range(6))
def test_segmentation_train_keeps_image_and_mask_aligned(seed: int) -> None:
    image, mask = _blocks(seed=seed)
    transform = segmentation_train_transform((24, 40), **NORM, scale_range=(0.5, 2.0))
    torch.manual_seed(seed)
    out_image, out_mask = transform(image, mask)
    assert out_image.dtype == torch.float32 and tuple(out_image.shape) == (3, 24, 40)
    assert isinstance(out_mask, tv_tensors.Mask) and out_mask.dtype == torch.int64
    assert tuple(out_mask.shape) == (24, 40)
    pixels = _denormalise(out_image)
    labelled = out_mask != 255
    check = labelled & _interior(out_mask)
    assert check.sum() > 50
    assert torch.equal(_nearest_class(pixels)[check], out_mask[check])
    # The source mask has no 255, so every ignored pixel is padding, where the image is black.
    assert pixels[:, ~labelled].abs().max() < 1e-3 if (~labelled).any() else True


def test_segmentation_train_pads_mask_with_255() -> None:
    image, mask = _blocks(16, 16, block=4)
    transform = segmentation_train_transform((24, 40), **NORM, scale_range=(1.0, 1.0), hflip=False)
    out_image, out_mask = transform(image, mask)
    assert torch.equal(out_mask[:16, :16], mask)  # padding is at the bottom/right only
    assert (out_mask[16:, :] == 255).all() and (out_mask[:, 16:] == 255).all()
    assert _denormalise(out_image)[:, 16:, :].abs().max() < 1e-3


def test_segmentation_train_colour_jitter_image_only() -> None:
    image, mask = _blocks()
    transform = segmentation_train_transform((32, 64), **NORM, scale_range=(1.0, 1.0), color_jitter=0.4)
    first, second = _torch_only(transform, image, mask)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert set(first[1].unique().tolist()) <= set(range(len(COLOURS)))


def test_segmentation_eval_leaves_mask_at_label_size() -> None:
    image, mask = _blocks(32, 64)
    out_image, out_mask = segmentation_eval_transform(short_side=16, **NORM)(image, mask)
    assert tuple(out_image.shape) == (3, 16, 32) and out_image.dtype == torch.float32
    assert torch.equal(out_mask, mask) and out_mask.dtype == torch.int64
    same, _ = segmentation_eval_transform(short_side=None, **NORM)(image, mask)
    assert tuple(same.shape) == (3, 32, 64)
    torch.testing.assert_close(_denormalise(same), image.float(), rtol=0, atol=1e-3)


# ----------------------------------------------------------------------------------------------------------
# Super-resolution


def test_super_resolution_patch_is_a_dihedral_view() -> None:
    image = _image(12, 12)
    transform = super_resolution_train_transform(12)
    views = []
    for flip in (False, True):
        base = image.flip(-1) if flip else image
        views += [torch.rot90(base, k, dims=(-2, -1)) for k in range(4)]
    seen = set()
    for seed in range(24):
        torch.manual_seed(seed)
        out = transform(image)
        assert out.dtype == torch.uint8 and tuple(out.shape) == (3, 12, 12)
        matches = [i for i, view in enumerate(views) if torch.equal(out, view)]
        assert matches
        seen.add(matches[0])
    assert len(seen) > 4  # flips and rotations all happen


def test_super_resolution_crop_and_errors() -> None:
    transform = super_resolution_train_transform(8)
    first, second = _torch_only(transform, _image(20, 30))
    assert torch.equal(first, second) and tuple(first.shape) == (3, 8, 8)
    with pytest.raises(ValueError, match="smaller than the 8x8"):
        transform(_image(6, 30))
