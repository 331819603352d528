"""train_one_epoch and evaluate on an in-memory problem."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.train.ema import ModelEma
from efficientvit.train.loop import Position, evaluate, train_one_epoch
from efficientvit.train.tasks import build_task


def _batches(count: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two separable classes of 8-dim points."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        target = torch.randint(0, 2, (16,), generator=generator)
        inputs = torch.randn(16, 8, generator=generator) + 2.0 * target[:, None]
        batches.append((inputs, target))
    return batches


def test_training_improves_the_metric_and_tracks_position() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    task = build_task("cls", label_smoothing=0.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-2)
    data, held_out = _batches(20), _batches(5, seed=1)
    before = evaluate(model, held_out, task, device=torch.device("cpu"), progress=False)
    position = Position()
    steps: list[int] = []
    ema = ModelEma(model, 0.9)
    train_one_epoch(
        model, data, optimizer, task, position, device=torch.device("cpu"), lr_at=lambda step: 5e-2,
        num_batches=20, grad_clip=1.0, ema=ema, after_step=lambda p: steps.append(p.step), progress=False,
    )  # fmt: skip
    after = evaluate(model, held_out, task, device=torch.device("cpu"), progress=False)
    assert position.batch == position.step == 20 and position.samples == 320
    assert steps == list(range(1, 21))
    assert after["top1"] > max(before["top1"], 90.0)
    assert evaluate(ema.module, held_out, task, device=torch.device("cpu"), progress=False)["top1"] > 80.0


def test_a_diverging_loss_stops_with_a_clear_error() -> None:
    model = nn.Linear(8, 2)
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(EfficientViTError, match="training loss became nan at epoch 1, step 0; lower"):
        train_one_epoch(
            model, _batches(1), optimizer, build_task("cls"), Position(), device=torch.device("cpu"),
            lr_at=lambda step: 0.1, num_batches=1, progress=False,
        )  # fmt: skip
