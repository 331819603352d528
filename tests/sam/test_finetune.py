"""COCO instance data through the loader, decoder fine-tuning steps, and the zero-shot evaluation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from efficientvit.data.coco import CocoInstanceDataset
from efficientvit.sam import SamPredictor
from efficientvit.sam.coco_eval import evaluate_coco
from efficientvit.sam.finetune import dice_loss, finetune_step, focal_loss, mask_loss, trainable_parameters
from efficientvit.zoo import create_model


def test_losses_on_hand_computed_cases() -> None:
    target = torch.tensor([[[1.0, 0.0]]])
    certain = torch.tensor([[[20.0, -20.0]]])
    assert focal_loss(certain, target).item() == pytest.approx(0.0, abs=1e-8)
    assert dice_loss(certain, target).item() == pytest.approx(0.0, abs=1e-6)
    zero = torch.zeros(1, 1, 2)
    # p = 0.5 everywhere: bce = ln 2; focal weight alpha or 1 - alpha, times 0.5 ** 2
    assert focal_loss(zero, target).item() == pytest.approx(
        (0.25 + 0.75) / 2 * 0.25 * torch.log(torch.tensor(2.0))
    )
    assert dice_loss(zero, target).item() == pytest.approx(1 - (2 * 0.5 + 1) / (1 + 1 + 1))
    assert mask_loss(zero, target).item() == pytest.approx(
        20 * focal_loss(zero, target) + dice_loss(zero, target)
    )


def test_coco_layout_loads_trains_the_decoder_and_evaluates(synthetic: Callable[..., Path]) -> None:
    root = synthetic("coco", num_train=2, num_val=2)
    dataset = CocoInstanceDataset(root / "train2017", root / "annotations" / "instances_train2017.json")
    image, target = dataset[0]
    assert target["boxes"].shape[0] == target["masks"].shape[0] > 0
    torch.manual_seed(0)
    predictor = SamPredictor(create_model("efficientvit-sam-l0"))
    encoder_before = [p.clone() for p in predictor.model.image_encoder.parameters()][:3]
    optimizer = torch.optim.AdamW(trainable_parameters(predictor), lr=1e-3)
    losses = [finetune_step(predictor, image, target["boxes"], target["masks"], optimizer) for _ in range(4)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]  # the decoder fits this image's masks
    assert all(
        torch.equal(a, b)
        for a, b in zip(encoder_before, predictor.model.image_encoder.parameters(), strict=False)
    )
    result = evaluate_coco(
        predictor, root / "annotations" / "instances_val2017.json", root / "val2017", prompt="box"
    )
    assert result.count > 0 and 0.0 <= result.miou <= 1.0
