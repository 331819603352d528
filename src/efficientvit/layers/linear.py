"""Fully connected layer with optional norm and activation (the classification head's MLP)."""

from __future__ import annotations

import torch
from torch import nn

from efficientvit.layers.types import ActFactory, NormFactory


class LinearNormAct(nn.Module):
    """Flatten, optional dropout, Linear, optional norm, optional activation."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        norm: NormFactory | None = None,
        act: ActFactory | None = None,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.norm = norm(out_features) if norm is not None else None
        self.act = act() if act is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, start_dim=1)  # (B, C, 1, 1) -> (B, C)
        if self.dropout is not None:
            x = self.dropout(x)
        x = self.linear(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x
