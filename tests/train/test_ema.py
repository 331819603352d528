"""The exponential moving average of weights."""

from __future__ import annotations

import torch
from torch import nn

from efficientvit.train.ema import ModelEma


def test_ema_follows_the_documented_update() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = ModelEma(model, decay=0.5)
    start = ema.module[0].weight.clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model[1].num_batches_tracked += 3
    ema.update(model, step=100)  # ramp (101 / 110) > 0.5, so d = 0.5
    assert torch.allclose(ema.module[0].weight, 0.5 * start + 0.5 * model[0].weight)
    assert int(ema.module[1].num_batches_tracked) == 3
    assert not ema.module[0].weight.requires_grad


def test_early_steps_use_the_ramped_decay() -> None:
    model = nn.Linear(1, 1, bias=False)
    ema = ModelEma(model, decay=0.999)
    start = ema.module.weight.clone()
    with torch.no_grad():
        model.weight.fill_(10.0)
    ema.update(model, step=0)  # d = min(0.999, 1 / 10)
    assert torch.allclose(ema.module.weight, 0.1 * start + 0.9 * 10.0)
