"""What a runner watches: the weights' content digest and the cheap per-call state token."""

from __future__ import annotations

import torch
from torch import nn

from efficientvit.runtime.fingerprint import WeightWatch, state_token, weights_digest


def small() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_the_digest_is_the_content() -> None:
    a, b = small(), small()
    assert weights_digest(a) == weights_digest(b)  # equal weights, different objects
    with torch.no_grad():
        b[0].weight[0, 0, 0, 0] += 1e-6
    assert weights_digest(a) != weights_digest(b)
    b.load_state_dict(a.state_dict())
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():
        b[1].running_mean += 1  # buffers count too
    assert weights_digest(a) != weights_digest(b)


def test_the_token_changes_with_every_kind_of_write() -> None:
    model = small()
    before = state_token(model)
    assert state_token(model) == before
    model.load_state_dict(small().state_dict())  # same values, written in place
    assert state_token(model) != before
    after_load = state_token(model)
    with torch.no_grad():
        model[0].bias.mul_(2)
    assert state_token(model) != after_load
    in_place = state_token(model)
    model[0].weight = nn.Parameter(model[0].weight.detach().clone())  # a new tensor
    assert state_token(model) != in_place
    replaced = state_token(model)
    model.to(torch.float64)
    assert state_token(model) != replaced
    optimiser_token = state_token(model)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(1, 3, 5, 5, dtype=torch.float64)).sum().backward()
    optimiser.step()
    assert state_token(model) != optimiser_token


def test_the_watch_sees_every_kind_of_write_and_nothing_else() -> None:
    model = small()
    watch = WeightWatch(model)
    assert not watch.changed()
    nn.Linear(2, 2)  # another module registering parameters: the watch looks again, finds no change
    assert not watch.changed()
    for write in (
        lambda m: m.load_state_dict(small().state_dict()),
        lambda m: m[1].running_var.add_(1),
        lambda m: setattr(m[0], "weight", nn.Parameter(m[0].weight.detach().clone())),
        lambda m: m.to(torch.float64),
        lambda m: setattr(m, "1", nn.BatchNorm2d(4).to(torch.float64)),
    ):
        with torch.no_grad():
            write(model)
        assert watch.changed()
        watch = WeightWatch(model)
        assert not watch.changed()
