"""Whole runs on tiny generated datasets in every layout: loader, training steps, evaluation, run files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from efficientvit.errors import EfficientViTError
from efficientvit.train.checkpoint import load_checkpoint
from efficientvit.train.config import TrainConfig
from efficientvit.train.evaluation import evaluate_weights
from efficientvit.train.run import fit
from efficientvit.zoo import create_model

CASES = {
    # layout: (task, model, config fields)
    "imagenet": ("cls", "efficientvit-b0", {"resolution": 32}),
    "cityscapes": ("seg", "efficientvit-seg-b0-cityscapes", {"crop_size": (64, 64)}),
    "ade20k": ("seg", "efficientvit-seg-b0-cityscapes", {"crop_size": (64, 64), "eval_short_side": 64}),
    "folder": ("seg", "efficientvit-seg-b0-cityscapes", {"crop_size": (64, 64)}),
}


@pytest.mark.parametrize("layout", sorted(CASES))
def test_a_short_run_in_each_layout_trains_evaluates_and_writes_its_files(
    layout: str, synthetic: Callable[..., Path], fast_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    task, model, fields = CASES[layout]
    config = fast_config(
        task=task, model=model, data=str(synthetic(layout)), output=str(tmp_path / "run"), **fields
    )
    result = fit(config)
    files = sorted(p.name for p in result.output.iterdir())
    assert files == ["best.pt", "config.json", "last.pt", "metrics.jsonl"]
    assert TrainConfig.load(result.output / "config.json") == config
    (record,) = [json.loads(line) for line in (result.output / "metrics.jsonl").read_text().splitlines()]
    assert record["epoch"] == 1 and record["step"] == result.steps > 0
    assert torch.isfinite(torch.tensor(record["train_loss"]))
    primary = "top1" if task == "cls" else "mIoU"
    assert 0.0 <= record["eval"][primary] <= 100.0
    # best.pt loads into a fresh model through the ordinary weights path, and evaluates the same (under the
    # protocol training validates with)
    again = evaluate_weights(config, str(result.output / "best.pt"), protocol="efficientvit")
    assert again[primary] == pytest.approx(record["eval"][primary])
    weights = load_checkpoint(result.output / "best.pt")["model"]
    num_classes = len(next(v for k, v in reversed(weights.items()) if k.endswith("bias")))
    create_model(model, weights=result.output / "best.pt", num_classes=num_classes)


def test_an_existing_run_is_not_overwritten(
    synthetic: Callable[..., Path], fast_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    config = fast_config(task="cls", model="efficientvit-b0", data=str(synthetic("imagenet")),
                         output=str(tmp_path / "run"), resolution=32)  # fmt: skip
    fit(config)
    with pytest.raises(EfficientViTError, match="already holds a run; continue it with --resume"):
        fit(config)


def test_a_wrong_task_for_the_model_is_refused(
    synthetic: Callable[..., Path], fast_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    config = fast_config(
        task="seg", model="efficientvit-b0", data=str(synthetic("folder")), output=str(tmp_path)
    )
    message = "efficientvit-b0 is a classification model, not a segmentation model"
    with pytest.raises(EfficientViTError, match=message):
        fit(config)
