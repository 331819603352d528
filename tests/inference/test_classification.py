"""efficientvit.inference.classification: the official preprocessing and sorted, batched top-k predictions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from efficientvit import EfficientViTError, create_model, get_model_info
from efficientvit.data.labels import IMAGENET_MEAN, IMAGENET_STD, imagenet_classes
from efficientvit.inference import classify, preprocess_classification

MODEL = "efficientvit-b1-r224"


@pytest.fixture(scope="module")
def model(official_checkpoint: Callable[[str], Path]) -> nn.Module:
    return create_model(MODEL, weights=official_checkpoint(MODEL))


@pytest.mark.parametrize("size", [(64, 96), (1, 1), (45, 70), (2, 900), (300, 236)])
def test_preprocess_gives_the_model_resolution(size: tuple[int, int], random_image) -> None:
    x = preprocess_classification(random_image(*size), get_model_info(MODEL))
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and torch.isfinite(x).all()


def test_preprocess_crops_the_centre_and_normalises(random_image) -> None:
    image = random_image(236, 300)  # shorter side already ceil(224 / 0.95) = 236: resizing is the identity
    x = preprocess_classification(image, get_model_info(MODEL))
    centre = image[:, 6:230, 38:262].float() / 255  # (236 - 224) / 2 = 6, (300 - 224) / 2 = 38
    expected = (centre - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    torch.testing.assert_close(x, expected)


def test_classify_top_k_sorted_and_batched(model: nn.Module, random_image) -> None:
    images = [random_image(64, 96, seed=1), random_image(45, 70, seed=2), random_image(1, 1, seed=3)]
    results = classify(model, images, top_k=4, batch_size=2)
    assert len(results) == 3
    for predictions in results:
        probs = [p for _, p in predictions]
        assert len(predictions) == 4 and probs == sorted(probs, reverse=True)
        assert all(0 <= p <= 1 for p in probs) and sum(probs) <= 1 + 1e-6
        assert all(label in imagenet_classes() for label, _ in predictions)
    alone = classify(model, images[1:2], top_k=4)[0]
    assert [label for label, _ in alone] == [label for label, _ in results[1]]
    torch.testing.assert_close([p for _, p in alone], [p for _, p in results[1]])


def test_classify_matches_the_model(model: nn.Module, random_image) -> None:
    image = random_image(64, 96, seed=4)
    with torch.no_grad():
        probs = model(preprocess_classification(image, model.info)[None]).softmax(dim=-1)[0]
    (predictions,) = classify(model, [image], top_k=1000)
    assert len(predictions) == 1000
    assert sum(p for _, p in predictions) == pytest.approx(1.0, abs=1e-4)
    label, p = predictions[0]
    assert label == imagenet_classes()[int(probs.argmax())] and p == pytest.approx(float(probs.max()))


def test_classify_rejects_other_tasks_and_bad_input(model: nn.Module, random_image) -> None:
    with torch.device("meta"):
        segmenter = create_model("efficientvit-seg-b0-cityscapes")
    with pytest.raises(EfficientViTError, match="segmentation model, not a classification model"):
        classify(segmenter, [random_image(8, 8)])
    with pytest.raises(ValueError, match="uint8"):
        classify(model, [torch.rand(3, 8, 8)])
    with pytest.raises(ValueError, match="top_k"):
        classify(model, [random_image(8, 8)], top_k=0)
    assert classify(model, []) == []
