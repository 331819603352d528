"""`efficientvit classify --weights` with timm's checkpoints: a file or an ``hf://timm/...`` repository."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from efficientvit import create_model
from efficientvit.data.images import read_image
from efficientvit.data.labels import imagenet_classes
from efficientvit.inference import preprocess_classification

pytest.importorskip("timm")

MODEL = "efficientvit-b0-r224"


def _timm_top5(timm_model: torch.nn.Module, image: Path) -> list[tuple[str, float]]:
    """timm's model on our preprocessing of ``image``: the top-5 labels and probabilities."""
    batch = preprocess_classification(read_image(image), create_model(MODEL).info)[None]
    with torch.no_grad():
        probabilities = timm_model(batch).softmax(dim=-1)[0]
    top = probabilities.topk(5)
    names = imagenet_classes()
    return [(names[i], p) for i, p in zip(top.indices.tolist(), top.values.tolist(), strict=True)]


def _assert_predictions(out: str, expected: list[tuple[str, float]]) -> None:
    (entry,) = json.loads(out)
    predictions = [(p["label"], p["probability"]) for p in entry["predictions"]]
    assert [label for label, _ in predictions] == [label for label, _ in expected]
    assert max(abs(p - q) for (_, p), (_, q) in zip(predictions, expected, strict=True)) < 1e-5
    # the logits are not all alike (a constant output would tie and rank classes 0-4 by index)
    assert all(p - q > 1e-6 for (_, p), (_, q) in itertools.pairwise(expected))


def test_classify_with_a_timm_file(cli, make_image, timm_checkpoint) -> None:
    timm_model, folder = timm_checkpoint("efficientvit_b0")
    image = make_image("a.jpg", "jpeg", (120, 90))
    result = cli("classify", "--model", MODEL, "--weights", folder / "model.safetensors", image, "--json")
    assert result.code == 0, result.err
    _assert_predictions(result.out, _timm_top5(timm_model, image))


def test_classify_with_an_hf_timm_repo_offline(
    cli, make_image, timm_checkpoint, hub_cache: Path, fill_hub_cache
) -> None:
    timm_model, folder = timm_checkpoint("efficientvit_b0")
    fill_hub_cache(hub_cache, "timm/efficientvit_b0.r224_in1k", folder)
    image = make_image("b.png", size=(64, 96))
    result = cli("classify", "-m", MODEL, "-w", "hf://timm/efficientvit_b0.r224_in1k", image, "--json")
    assert result.code == 0, result.err
    _assert_predictions(result.out, _timm_top5(timm_model, image))


def test_timm_file_of_another_size_is_one_line(cli, make_image, timm_checkpoint) -> None:
    _, folder = timm_checkpoint("efficientvit_b0")
    weights = folder / "model.safetensors"
    result = cli("classify", "-m", "efficientvit-b1-r224", "-w", weights, make_image("c.png"))
    result.assert_user_error(
        str(weights), "timm's efficientvit_b0", "efficientvit-b1-r224", "efficientvit-b0-r224"
    )
