"""Composite blocks: sequential and residual wrappers, the EfficientViT block (Fig. 2), upsampling."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.layers.attention import LiteMLA
from efficientvit.layers.conv import MBConv
from efficientvit.layers.types import ActFactory, NormFactory


class OpSequential(nn.Module):
    """Runs its modules in order; parameters are named ``op_list.<i>`` as in the official checkpoints."""

    def __init__(self, ops: Iterable[nn.Module]) -> None:
        super().__init__()
        self.op_list = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.op_list:
            x = op(x)
        return x


class ResidualBlock(nn.Module):
    """``main(x) + x`` when ``shortcut`` is true, else just ``main(x)`` (a downsampling block)."""

    def __init__(self, main: nn.Module, *, shortcut: bool = True) -> None:
        super().__init__()
        self.main = main
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.main(x)
        return out + x if self.shortcut else out

    def extra_repr(self) -> str:
        return f"shortcut={self.shortcut}"


class EfficientViTBlock(nn.Module):
    """EfficientViT block: LiteMLA for global context, then an MBConv for local features, both residual."""

    def __init__(
        self,
        channels: int,
        *,
        head_dim: int,
        expand_ratio: float,
        scales: tuple[int, ...] = (5,),
        norm: NormFactory = nn.BatchNorm2d,
        act: ActFactory = nn.Hardswish,
    ) -> None:
        super().__init__()
        attention = LiteMLA(channels, channels, head_dim=head_dim, scales=scales, norm=norm)
        self.context_module = ResidualBlock(attention)
        ffn = MBConv(
            channels,
            channels,
            expand_ratio=expand_ratio,
            bias=(True, True, False),
            norm=(None, None, norm),
            act=(act, act, None),
        )
        self.local_module = ResidualBlock(ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_module(self.context_module(x))


class UpSample(nn.Module):
    """Bicubic resize by an integer ``factor`` or to a fixed ``size`` (in float32 under reduced precision)."""

    def __init__(self, factor: int | None = None, *, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        if (factor is None) == (size is None):
            raise ValueError("give exactly one of factor and size")
        self.factor = factor
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor == 1 or (self.size is not None and tuple(x.shape[-2:]) == self.size):
            return x
        in_dtype = x.dtype
        if in_dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        x = F.interpolate(x, size=self.size, scale_factor=self.factor, mode="bicubic", align_corners=False)
        return x.to(in_dtype)

    def extra_repr(self) -> str:
        return f"factor={self.factor}" if self.size is None else f"size={self.size}"
