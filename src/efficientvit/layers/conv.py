"""Convolutional layers of EfficientViT (Cai et al., ICCV 2023, Sec. 3 and Fig. 2 / Fig. 4)."""

from __future__ import annotations

import torch
from torch import nn

from efficientvit.layers.types import ActFactory, NormFactory

Triple = tuple[bool, bool, bool]


class ConvNormAct(nn.Module):
    """Conv2d ("same" padding) followed by an optional norm and activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
        dropout: float = 0.0,
        norm: NormFactory | None = nn.BatchNorm2d,
        act: ActFactory | None = nn.ReLU,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else None
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=bias,
        )
        self.norm = norm(out_channels) if norm is not None else None
        self.act = act() if act is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            x = self.dropout(x)
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class DSConv(nn.Module):
    """Depthwise-separable convolution: depthwise kxk, then pointwise 1x1."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        bias: tuple[bool, bool] = (False, False),
        norm: tuple[NormFactory | None, NormFactory | None] = (nn.BatchNorm2d, nn.BatchNorm2d),
        act: tuple[ActFactory | None, ActFactory | None] = (nn.ReLU6, None),
    ) -> None:
        super().__init__()
        self.depth_conv = ConvNormAct(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            groups=in_channels,
            bias=bias[0],
            norm=norm[0],
            act=act[0],
        )
        self.point_conv = ConvNormAct(in_channels, out_channels, 1, bias=bias[1], norm=norm[1], act=act[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(x))


class MBConv(nn.Module):
    """Mobile inverted bottleneck: expand 1x1, depthwise kxk, project 1x1 (the paper's FFN)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        expand_ratio: float = 6,
        bias: Triple = (False, False, False),
        norm: tuple[NormFactory | None, ...] = (nn.BatchNorm2d, nn.BatchNorm2d, nn.BatchNorm2d),
        act: tuple[ActFactory | None, ...] = (nn.ReLU6, nn.ReLU6, None),
    ) -> None:
        super().__init__()
        mid_channels = round(in_channels * expand_ratio)
        self.inverted_conv = ConvNormAct(in_channels, mid_channels, 1, bias=bias[0], norm=norm[0], act=act[0])
        self.depth_conv = ConvNormAct(
            mid_channels,
            mid_channels,
            kernel_size,
            stride=stride,
            groups=mid_channels,
            bias=bias[1],
            norm=norm[1],
            act=act[1],
        )
        self.point_conv = ConvNormAct(mid_channels, out_channels, 1, bias=bias[2], norm=norm[2], act=act[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(self.inverted_conv(x)))


class FusedMBConv(nn.Module):
    """Fused MBConv: one full kxk convolution that expands, then a 1x1 projection."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        expand_ratio: float = 6,
        bias: tuple[bool, bool] = (False, False),
        norm: tuple[NormFactory | None, NormFactory | None] = (nn.BatchNorm2d, nn.BatchNorm2d),
        act: tuple[ActFactory | None, ActFactory | None] = (nn.ReLU6, None),
    ) -> None:
        super().__init__()
        mid_channels = round(in_channels * expand_ratio)
        self.spatial_conv = ConvNormAct(
            in_channels, mid_channels, kernel_size, stride=stride, bias=bias[0], norm=norm[0], act=act[0]
        )
        self.point_conv = ConvNormAct(mid_channels, out_channels, 1, bias=bias[1], norm=norm[1], act=act[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.spatial_conv(x))


class ResBlock(nn.Module):
    """Two kxk convolutions (the body of a ResNet basic block, without its shortcut)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        expand_ratio: float = 1,
        bias: tuple[bool, bool] = (False, False),
        norm: tuple[NormFactory | None, NormFactory | None] = (nn.BatchNorm2d, nn.BatchNorm2d),
        act: tuple[ActFactory | None, ActFactory | None] = (nn.ReLU6, None),
    ) -> None:
        super().__init__()
        mid_channels = round(in_channels * expand_ratio)
        self.conv1 = ConvNormAct(
            in_channels, mid_channels, kernel_size, stride=stride, bias=bias[0], norm=norm[0], act=act[0]
        )
        self.conv2 = ConvNormAct(
            mid_channels, out_channels, kernel_size, bias=bias[1], norm=norm[1], act=act[1]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))
