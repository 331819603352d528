"""MACs and parameter counts. MACs = FLOPs / 2 as counted by ``torch.utils.flop_counter`` (conv, mm, bmm,
addmm), the convention of the official EfficientViT tables."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on an input of ``input_shape``.

    The input is made on the model's device. Build the model under ``torch.device("meta")`` to count
    without computing anything or allocating weights: even 1024x2048 on the largest model takes < 1 s.
    """
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    x = torch.zeros(*input_shape, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


def count_params(model: nn.Module) -> int:
    """Number of parameters (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())
