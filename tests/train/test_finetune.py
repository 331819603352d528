"""Fine-tuning: an official checkpoint into a model with a new number of classes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from efficientvit.errors import EfficientViTError
from efficientvit.train.finetune import load_pretrained
from efficientvit.weights import read_state_dict
from efficientvit.zoo import create_model


def test_new_classifier_is_reinitialised_and_everything_else_loaded(
    official_checkpoint: Callable[[str], Path],
) -> None:
    path = official_checkpoint("efficientvit-b0-r224")
    model = create_model("efficientvit-b0", num_classes=7)
    fresh_head = model.head.op_list[3].linear.weight.clone()
    report = load_pretrained(model, path, model_name="efficientvit-b0")
    assert [entry.split(" ")[0] for entry in report.skipped] == [
        "head.op_list.3.linear.weight",
        "head.op_list.3.linear.bias",
    ]
    assert "[1000, 1280] in checkpoint, [7, 1280] here" in report.skipped[0]
    assert "re-initialised 2" in report.summary()
    state = read_state_dict(path)
    own = model.state_dict()
    assert all(torch.equal(own[k], state[k]) for k in report.loaded)
    assert len(report.loaded) == len(own) - 2
    assert torch.equal(model.head.op_list[3].linear.weight, fresh_head)


def test_a_checkpoint_of_another_architecture_is_refused(official_checkpoint: Callable[[str], Path]) -> None:
    model = create_model("efficientvit-b0", num_classes=7)
    with pytest.raises(
        EfficientViTError, match=r"only .* tensors match by name and shape; is it the checkpoint"
    ):
        load_pretrained(model, official_checkpoint("efficientvit-b1-r224"), model_name="efficientvit-b0")
