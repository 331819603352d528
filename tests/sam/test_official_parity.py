"""Against the official EfficientViT-SAM code (``efficientsam`` on PyPI) with the same weights: the encoder's
input is bitwise the official predictor's, and ``set_image`` embeddings agree within 1e-5 of their largest
value, for L models (512) and XL models (1024), odd sizes, portraits, upscaled and unresized images."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from efficientvit.reference import load_manifest, recipe_state_dict
from efficientvit.sam import SamPredictor
from efficientvit.tasks import sam as sam_task
from efficientvit.zoo import create_model

from .conftest import MANIFESTS

pytest.importorskip("efficientsam")
from efficientsam.models.efficientvit.sam import EfficientViTSamPredictor
from efficientsam.sam_model_zoo import create_efficientvit_sam_model

SIZES = [(333, 517), (400, 300), (100, 150), (512, 384), (768, 1024)]
"""Odd, portrait, smaller than the encoder (upscaled), and longest side already 512 or 1024 (not resized)."""


def _models(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    ours = create_model(name)
    ours.load_state_dict(recipe_state_dict(load_manifest(MANIFESTS, name)["state_dict"]))
    official = create_efficientvit_sam_model(name, pretrained=False)
    official.load_state_dict(ours.state_dict())
    return ours.eval(), official.eval()


@pytest.fixture(scope="module")
def l0() -> tuple[torch.nn.Module, torch.nn.Module]:
    return _models("efficientvit-sam-l0")


@pytest.fixture(scope="module")
def xl0() -> tuple[torch.nn.Module, torch.nn.Module]:
    return _models("efficientvit-sam-xl0")


def _photo(sample_photo: Callable[[str, int, int], np.ndarray], size: tuple[int, int]) -> np.ndarray:
    return sample_photo("astronaut", *size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("which", ["l0", "xl0"])
def test_encoder_input_is_the_official_predictors(
    request: pytest.FixtureRequest, sample_photo, which: str, size: tuple[int, int]
) -> None:
    ours, official = request.getfixturevalue(which)
    image = _photo(sample_photo, size)
    side = ours.info.resolution[0]
    x, _ = sam_task.preprocess(torch.from_numpy(image).permute(2, 0, 1), side, ours.info.mean, ours.info.std)
    expected = official.transform(image)[None]  # (1, 3, side, side)
    assert x.shape == expected.shape == (1, 3, side, side)
    assert torch.equal(x, expected)


@pytest.mark.parametrize(("which", "size"), [("l0", (333, 517)), ("l0", (400, 300)), ("xl0", (400, 300))])
def test_set_image_embeddings_equal_the_official_ones(
    request: pytest.FixtureRequest, sample_photo, which: str, size: tuple[int, int]
) -> None:
    ours, official = request.getfixturevalue(which)
    image = _photo(sample_photo, size)
    predictor = SamPredictor(ours, backend="eager")
    predictor.set_image(image)
    reference = EfficientViTSamPredictor(official)
    reference.set_image(image)
    embedding, expected = predictor.get_image_embedding(), reference.features
    error = (embedding - expected).abs().max() / expected.abs().max()
    assert error <= 1e-5, float(error)
    assert predictor.input_size == tuple(reference.input_size)
    assert predictor.original_size == tuple(reference.original_size)


def test_predict_torch_with_64_boxes_equals_the_official_predictor(l0, sample_photo) -> None:
    """On ``fused``, where the prompt decoder is the many-prompt decoder (what ``auto`` runs on a CPU)."""
    ours, official = l0
    image = _photo(sample_photo, (480, 640))
    predictor = SamPredictor(ours, backend="fused")
    predictor.set_image(image)
    reference = EfficientViTSamPredictor(official)
    reference.set_image(image)
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(64, 2, 2, generator=generator) * torch.tensor([640.0, 480.0])
    boxes = torch.cat([corners.min(dim=1).values, corners.max(dim=1).values], dim=1)  # (64, 4) pixels
    masks, scores, low_res = predictor.predict_torch(
        boxes=predictor.transform.apply_boxes_torch(boxes, image.shape[:2]), multimask_output=True
    )
    expected = reference.predict_torch(
        point_coords=None,
        point_labels=None,
        boxes=reference.apply_boxes_torch(boxes),
        multimask_output=True,
        return_logits=True,
    )
    expected_masks, expected_scores, expected_low_res = expected
    scale = expected_low_res.abs().max()
    assert (low_res - expected_low_res).abs().max() <= 1e-4 * scale
    torch.testing.assert_close(scores, expected_scores, rtol=1e-4, atol=1e-5)
    assert masks.shape == expected_masks.shape == (64, 3, 480, 640)
    assert (masks == (expected_masks > 0)).float().mean() > 0.9999


@pytest.mark.parametrize("backend", ["auto", "eager"])
def test_automatic_masks_match_the_official_generators(l0, sample_photo, backend: str) -> None:
    """Thresholds and NMS loosened so that many masks survive on these untrained weights; every mask of ours
    has an official twin with IoU >= 0.99 and the other way round."""
    from efficientsam.models.efficientvit.sam import EfficientViTSamAutomaticMaskGenerator

    from efficientvit.sam import SamAutomaticMaskGenerator

    ours, official = l0
    image = _photo(sample_photo, (240, 320))
    settings = {
        "points_per_side": 6,
        "pred_iou_thresh": 0.0,
        "stability_score_thresh": 0.0,
        "box_nms_thresh": 1.0,
    }
    mine = SamAutomaticMaskGenerator(ours, backend=backend, **settings).generate(image)
    theirs = EfficientViTSamAutomaticMaskGenerator(official, **settings).generate(image)
    assert len(mine) >= 10 and abs(len(mine) - len(theirs)) <= max(1, len(theirs) // 50)
    a = torch.from_numpy(np.stack([m["segmentation"] for m in mine])).flatten(1).float()  # (M, H*W)
    b = torch.from_numpy(np.stack([m["segmentation"] for m in theirs])).flatten(1).float()  # (N, H*W)
    intersection = a @ b.T
    iou = intersection / (a.sum(1)[:, None] + b.sum(1)[None, :] - intersection).clamp(min=1)
    assert (iou.max(dim=1).values >= 0.99).float().mean() >= 0.98
    assert (iou.max(dim=0).values >= 0.99).float().mean() >= 0.98
