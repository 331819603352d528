"""AdamW with per-parameter-group weight decay, and the cosine learning-rate schedule with linear warm-up."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["build_optimizer", "cosine_lr", "parameter_groups", "set_lr"]

_NO_DECAY_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights of convolutions and linears decay; norms' parameters and all biases do not."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if not parameter.requires_grad or id(parameter) in seen:
                continue
            seen.add(id(parameter))
            is_norm = isinstance(module, _NO_DECAY_TYPES) or "norm" in type(module).__name__.lower()
            (no_decay if is_norm or name == "bias" or parameter.ndim <= 1 else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`; the learning rate is set every step by :func:`set_lr`."""
    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr, betas=(0.9, 0.999))


def cosine_lr(
    step: int, *, base_lr: float, total_steps: int, warmup_steps: int, min_lr: float = 0.0
) -> float:
    """Linear warm-up from ~0 to ``base_lr`` over ``warmup_steps``, then cosine decay to ``min_lr``.

    A pure function of the step, so a resumed run recomputes exactly the learning rate it would have had.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
