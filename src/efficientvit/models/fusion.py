"""Multi-scale fusion by addition: the shape shared by the segmentation head and the SAM neck."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from efficientvit.layers import FusedMBConv, MBConv, OpSequential, ResidualBlock
from efficientvit.layers.types import ActFactory, NormFactory


class AddFusion(nn.Module):
    """Project and resize each named backbone feature (``input_ops``), add them, refine the sum with
    ``middle``, then apply ``output``. Parameter names follow the official DAGBlock."""

    def __init__(self, input_ops: dict[str, nn.Module], middle: OpSequential, output: OpSequential) -> None:
        super().__init__()
        self.feature_names = list(input_ops)
        self.input_ops = nn.ModuleList(input_ops.values())
        self.middle = middle
        self.output_ops = nn.ModuleList([output])

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        projected = [op(features[name]) for name, op in zip(self.feature_names, self.input_ops, strict=True)]
        fused = projected[-1]
        for feature in reversed(projected[:-1]):  # f0 + (f1 + f2): the official summation order
            fused = feature + fused
        return self.output_ops[0](self.middle(fused))


def refinement_blocks(
    width: int,
    depth: int,
    *,
    block: Literal["mb", "fused_mb"],
    expand_ratio: float,
    norm: NormFactory,
    act: ActFactory,
) -> OpSequential:
    """``depth`` residual MBConv or FusedMBConv blocks of constant ``width``."""
    blocks = []
    for _ in range(depth):
        if block == "mb":
            body: nn.Module = MBConv(
                width, width, expand_ratio=expand_ratio, norm=(norm,) * 3, act=(act, act, None)
            )
        else:
            body = FusedMBConv(width, width, expand_ratio=expand_ratio, norm=(norm, norm), act=(act, None))
        blocks.append(ResidualBlock(body))
    return OpSequential(blocks)
