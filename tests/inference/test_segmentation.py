"""efficientvit.inference.segmentation: label maps at the original size for any size, and their renderings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms.v2 import InterpolationMode

from efficientvit import EfficientViTError, create_model
from efficientvit.data.labels import CITYSCAPES_PALETTE, IMAGENET_MEAN, IMAGENET_STD
from efficientvit.inference import colorize, overlay, segment
from efficientvit.inference.segmentation import working_size
from efficientvit.tasks import segmentation as segmentation_task

MODEL = "efficientvit-seg-b0-cityscapes"


@pytest.fixture(scope="module")
def model(official_checkpoint: Callable[[str], Path]) -> nn.Module:
    return create_model(MODEL, weights=official_checkpoint(MODEL))


def _normalize(image: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image.float() / 255 - mean) / std


def _logits(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The model's logits upsampled to the size of ``image`` (whose sides must be multiples of 32)."""
    with torch.no_grad():
        logits = model(_normalize(image)[None])  # (1, 19, H / 8, W / 8)
    return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)[0]


@pytest.mark.parametrize("size", [(1, 1), (45, 70), (70, 45), (33, 97)])
def test_any_size_gives_labels_of_that_size(model: nn.Module, size: tuple[int, int], random_image) -> None:
    labels = segment(model, random_image(*size))
    assert labels.shape == size and labels.dtype == torch.uint8 and int(labels.max()) < 19


def test_equals_argmax_of_upsampled_logits(model: nn.Module, random_image) -> None:
    image = random_image(64, 64, seed=1)
    labels = segment(model, image, short_side=64)  # no resize, no padding: the plain model
    assert torch.equal(labels.long(), _logits(model, image).argmax(dim=0))


def test_default_size_equals_argmax_of_resized_logits(model: nn.Module, random_image) -> None:
    image = random_image(64, 64, seed=5)
    working = TF.resize(image, [1024, 1024], interpolation=InterpolationMode.BILINEAR, antialias=True)
    logits = F.interpolate(_logits(model, working)[None], size=(64, 64), mode="bilinear", align_corners=False)
    assert torch.equal(segment(model, image).long(), logits[0].argmax(dim=0))  # Cityscapes: shorter side 1024


def _reference_padded(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Normalise, zero-pad to multiples of 32, run, upsample to the padded size, crop, argmax."""
    h, w = image.shape[-2:]
    x = F.pad(_normalize(image), (0, -w % 32, 0, -h % 32))  # (3, Hp, Wp)
    with torch.no_grad():
        logits = F.interpolate(model(x[None]), size=x.shape[-2:], mode="bilinear", align_corners=False)
    return logits[0, :, :h, :w].argmax(dim=0)


def test_padding_is_cropped(model: nn.Module, random_image) -> None:
    image = random_image(45, 70, seed=2)
    labels = segment(model, image, short_side=45)  # working size = original size, padded to 64x96
    assert torch.equal(labels.long(), _reference_padded(model, image))


def test_large_images_resize_the_label_map(
    model: nn.Module, monkeypatch: pytest.MonkeyPatch, random_image
) -> None:
    image = random_image(40, 60, seed=3)
    monkeypatch.setattr(segmentation_task, "MAX_FULL_SIZE_LOGITS", 0)  # force the bounded-memory path
    labels = segment(model, image, short_side=64)
    working = TF.resize(image, [64, 96], interpolation=InterpolationMode.BILINEAR, antialias=True)
    at_working_size = _reference_padded(model, working)  # (64, 96)
    rows, cols = (torch.arange(40) * 64 + 32) // 40, (torch.arange(60) * 96 + 48) // 60  # pixel centres
    assert torch.equal(labels.long(), at_working_size[rows[:, None], cols[None, :]])


def test_working_size() -> None:
    assert working_size(1024, 2048, 1024, 4096) == (1024, 2048)
    assert working_size(45, 70, 1024, 4096) == (1024, 1593)
    assert working_size(1, 5000, 1024, 4096) == (1, 4096)  # the longer side is capped
    assert working_size(1, 1, 512, 1024) == (512, 512)


def test_rejects_classification_models(random_image) -> None:
    with torch.device("meta"):
        classifier = create_model("efficientvit-b0")
    with pytest.raises(EfficientViTError, match="classification model, not a segmentation model"):
        segment(classifier, random_image(8, 8))


def test_colorize_and_overlay(random_image) -> None:
    labels = torch.tensor([[0, 1], [18, 255]], dtype=torch.uint8)
    colours = colorize(labels, CITYSCAPES_PALETTE)
    assert colours.shape == (3, 2, 2) and colours.dtype == torch.uint8
    assert colours[:, 0, 0].tolist() == list(CITYSCAPES_PALETTE[0])
    assert colours[:, 1, 0].tolist() == list(CITYSCAPES_PALETTE[18])
    assert colours[:, 1, 1].tolist() == [0, 0, 0]  # outside the palette (ignore label)
    image = random_image(2, 2)
    assert torch.equal(overlay(image, labels, CITYSCAPES_PALETTE, alpha=0.0), image)
    assert torch.equal(overlay(image, labels, CITYSCAPES_PALETTE, alpha=1.0), colours)
    half = overlay(image, labels, CITYSCAPES_PALETTE)
    assert (half.float() - (image.float() + colours.float()) / 2).abs().max() <= 0.5
    with pytest.raises(ValueError, match="do not match"):
        overlay(image, labels[:1], CITYSCAPES_PALETTE)


def test_overlay_in_row_blocks_equals_the_whole_image_formula(
    random_image, monkeypatch: pytest.MonkeyPatch
) -> None:
    from efficientvit.inference import segmentation as inference

    monkeypatch.setattr(inference, "OVERLAY_BLOCK_PIXELS", 7 * 45)  # 7 rows a block; 37 rows leave a rest
    image = random_image(37, 45)
    labels = torch.randint(0, 21, (37, 45), dtype=torch.uint8)  # 19 and 20 are outside the palette
    table = torch.tensor([*CITYSCAPES_PALETTE, (0, 0, 0), (0, 0, 0)], dtype=torch.uint8)  # (21, 3)
    colours = table[labels.long()].permute(2, 0, 1)  # (3, H, W)
    assert torch.equal(colorize(labels, CITYSCAPES_PALETTE), colours)
    expected = (image.float() * 0.7 + colours.float() * 0.3).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(overlay(image, labels, CITYSCAPES_PALETTE, alpha=0.3), expected)


@pytest.mark.parametrize(
    ("option", "value", "bounds"),
    [
        ("short_side", -10, "from 32 to 8192"),
        ("short_side", 100_000, "from 32 to 8192"),
        ("short_side", 2.5, "from 32 to 8192"),
        ("max_side", 0, "of at least 32"),
    ],
)
def test_absurd_working_sizes_are_refused_by_name(
    model: nn.Module, random_image, option, value, bounds
) -> None:
    with pytest.raises(ValueError, match=f"{option} must be an integer {bounds} pixels"):
        segment(model, random_image(64, 64), **{option: value}, backend="eager")
