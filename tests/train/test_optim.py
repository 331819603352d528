"""Parameter groups without decay on norms and biases, and the warm-up + cosine schedule."""

from __future__ import annotations

import itertools
import math

import pytest
from torch import nn

from efficientvit.layers.norm import LayerNorm2d
from efficientvit.train.optim import build_optimizer, cosine_lr, parameter_groups


def test_norms_and_biases_do_not_decay() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), LayerNorm2d(4), nn.Linear(4, 2))
    decay, no_decay = parameter_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    decayed = {id(p) for p in decay["params"]}
    assert decayed == {id(model[0].weight), id(model[3].weight)}
    assert len(no_decay["params"]) == 2 + 2 + 2  # conv and linear biases, BN and LN weight + bias
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.05)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_cosine_schedule_warms_up_then_decays_to_min_lr() -> None:
    lr = [cosine_lr(s, base_lr=1.0, total_steps=110, warmup_steps=10, min_lr=0.1) for s in range(111)]
    assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)
    assert lr[10] == pytest.approx(1.0)
    assert lr[60] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 0.5)))
    assert lr[110] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(lr[10:]))
