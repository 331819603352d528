"""EfficientViT backbones: B-series (Cai et al., ICCV 2023, Fig. 4) and the later L-series.

Both return a dict of named stage features, ``stage0`` (stride 2) to ``stage4`` (stride 32), so that
task heads can pick the scales they need and read the channel counts from ``backbone.stage_channels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import torch
from torch import nn

from efficientvit.layers import (
    ConvNormAct,
    DSConv,
    EfficientViTBlock,
    FusedMBConv,
    MBConv,
    OpSequential,
    ResBlock,
    ResidualBlock,
)
from efficientvit.layers.types import ActFactory, NormFactory

LocalBlockKind = Literal["ds", "res", "fused_mb", "mb"]

gelu_tanh: ActFactory = partial(nn.GELU, approximate="tanh")
"""The L-series activation (the official ``"gelu"`` is the tanh approximation)."""


@dataclass(frozen=True)
class BackboneConfig:
    """An EfficientViT-B backbone: an input stem, two MBConv stages, two EfficientViT stages."""

    widths: tuple[int, int, int, int, int]
    depths: tuple[int, int, int, int, int]
    head_dim: int
    expand_ratio: float = 4
    norm_eps: float = 1e-5
    act: ActFactory = nn.Hardswish


@dataclass(frozen=True)
class LargeStage:
    """One stage of an L-series backbone: its block type, expansion, and whether local blocks skip
    the inner norms (using biases instead)."""

    block: Literal["res", "fused_mb", "mb", "attention"]
    expand_ratio: float
    fewer_norm: bool = False
    scales: tuple[int, ...] = (5,)


L_STAGES = (
    LargeStage("res", 1),
    LargeStage("fused_mb", 4),
    LargeStage("fused_mb", 4),
    LargeStage("mb", 4, fewer_norm=True),
    LargeStage("attention", 6, fewer_norm=True),
)


@dataclass(frozen=True)
class LargeBackboneConfig:
    """An EfficientViT-L backbone: fused MBConvs at high resolution, attention at the lowest ones."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    head_dim: int = 32
    stages: tuple[LargeStage, ...] = field(default=L_STAGES)
    norm_eps: float = 1e-7
    act: ActFactory = gelu_tanh


XL_STAGES = (
    LargeStage("res", 1),
    LargeStage("fused_mb", 4),
    LargeStage("fused_mb", 4),
    LargeStage("fused_mb", 4),
    LargeStage("attention", 4, fewer_norm=True, scales=(3,)),
    LargeStage("attention", 6, fewer_norm=True, scales=(3,)),
)
"""The six stages of the XL backbones of EfficientViT-SAM-XL."""

BACKBONES: dict[str, BackboneConfig | LargeBackboneConfig] = {
    "b0": BackboneConfig(widths=(8, 16, 32, 64, 128), depths=(1, 2, 2, 2, 2), head_dim=16),
    "b1": BackboneConfig(widths=(16, 32, 64, 128, 256), depths=(1, 2, 3, 3, 4), head_dim=16),
    "b2": BackboneConfig(widths=(24, 48, 96, 192, 384), depths=(1, 3, 4, 4, 6), head_dim=32),
    "b3": BackboneConfig(widths=(32, 64, 128, 256, 512), depths=(1, 4, 6, 6, 9), head_dim=32),
    "l0": LargeBackboneConfig(widths=(32, 64, 128, 256, 512), depths=(1, 1, 1, 4, 4)),
    "l1": LargeBackboneConfig(widths=(32, 64, 128, 256, 512), depths=(1, 1, 1, 6, 6)),
    "l2": LargeBackboneConfig(widths=(32, 64, 128, 256, 512), depths=(1, 2, 2, 8, 8)),
    "l3": LargeBackboneConfig(widths=(64, 128, 256, 512, 1024), depths=(1, 2, 2, 8, 8)),
    "xl0": LargeBackboneConfig(
        widths=(32, 64, 128, 256, 512, 1024), depths=(0, 1, 1, 2, 3, 3), stages=XL_STAGES
    ),
    "xl1": LargeBackboneConfig(
        widths=(32, 64, 128, 256, 512, 1024), depths=(1, 2, 2, 4, 6, 6), stages=XL_STAGES
    ),
}


def local_block(
    kind: LocalBlockKind,
    in_channels: int,
    out_channels: int,
    *,
    stride: int,
    expand_ratio: float,
    norm: NormFactory,
    act: ActFactory,
    fewer_norm: bool = False,
) -> nn.Module:
    """A convolutional block; with ``fewer_norm`` only its last conv is normalised (the others get biases)."""
    if kind == "mb":
        return MBConv(
            in_channels,
            out_channels,
            stride=stride,
            expand_ratio=expand_ratio,
            bias=(True, True, False) if fewer_norm else (False, False, False),
            norm=(None, None, norm) if fewer_norm else (norm, norm, norm),
            act=(act, act, None),
        )
    two_conv = {"ds": DSConv, "res": ResBlock, "fused_mb": FusedMBConv}[kind]
    extra = {} if kind == "ds" else {"expand_ratio": expand_ratio}
    return two_conv(
        in_channels,
        out_channels,
        stride=stride,
        bias=(True, False) if fewer_norm else (False, False),
        norm=(None, norm) if fewer_norm else (norm, norm),
        act=(act, None),
        **extra,
    )


class EfficientViTBackbone(nn.Module):
    """EfficientViT-B backbone (B0-B3): stem + DSConv, MBConv stages at strides 4/8, EfficientViT
    blocks at strides 16/32."""

    def __init__(self, config: BackboneConfig, in_channels: int = 3) -> None:
        super().__init__()
        self.config = config
        norm = partial(nn.BatchNorm2d, eps=config.norm_eps)
        act = config.act
        widths, depths = config.widths, config.depths
        block = partial(local_block, norm=norm, act=act)

        stem: list[nn.Module] = [ConvNormAct(in_channels, widths[0], 3, stride=2, norm=norm, act=act)]
        for _ in range(depths[0]):
            stem.append(ResidualBlock(block("ds", widths[0], widths[0], stride=1, expand_ratio=1)))
        self.input_stem = OpSequential(stem)

        stages: list[OpSequential] = []
        channels = widths[0]
        for width, depth in zip(widths[1:3], depths[1:3], strict=True):
            blocks = []
            for i in range(depth):
                stride = 2 if i == 0 else 1
                mb = block("mb", channels, width, stride=stride, expand_ratio=config.expand_ratio)
                blocks.append(ResidualBlock(mb, shortcut=stride == 1))
                channels = width
            stages.append(OpSequential(blocks))
        for width, depth in zip(widths[3:], depths[3:], strict=True):
            down = block("mb", channels, width, stride=2, expand_ratio=config.expand_ratio, fewer_norm=True)
            blocks = [ResidualBlock(down, shortcut=False)]
            channels = width
            blocks += [
                EfficientViTBlock(
                    width, head_dim=config.head_dim, expand_ratio=config.expand_ratio, norm=norm, act=act
                )
                for _ in range(depth)
            ]
            stages.append(OpSequential(blocks))
        self.stages = nn.ModuleList(stages)
        self.stage_channels = {f"stage{i}": width for i, width in enumerate(widths)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = {"stage0": (x := self.input_stem(x))}
        for i, stage in enumerate(self.stages, start=1):
            features[f"stage{i}"] = x = stage(x)
        return features


class EfficientViTLargeBackbone(nn.Module):
    """EfficientViT-L backbone (L0-L3, and the SAM-XL variants): per-stage block types from the config."""

    def __init__(self, config: LargeBackboneConfig, in_channels: int = 3) -> None:
        super().__init__()
        self.config = config
        norm = partial(nn.BatchNorm2d, eps=config.norm_eps)
        act = config.act
        block = partial(local_block, norm=norm, act=act)

        first = config.stages[0]
        width0 = config.widths[0]
        stage0: list[nn.Module] = [ConvNormAct(in_channels, width0, 3, stride=2, norm=norm, act=act)]
        for _ in range(config.depths[0]):
            body = block(
                first.block,
                width0,
                width0,
                stride=1,
                expand_ratio=first.expand_ratio,
                fewer_norm=first.fewer_norm,
            )
            stage0.append(ResidualBlock(body))
        stages = [OpSequential(stage0)]

        channels = width0
        for spec, width, depth in zip(config.stages[1:], config.widths[1:], config.depths[1:], strict=True):
            # Each stage opens with a stride-2 block with four times the stage's expansion.
            down_kind = spec.block if spec.block in ("mb", "fused_mb") else "mb"
            down = block(
                down_kind,
                channels,
                width,
                stride=2,
                expand_ratio=spec.expand_ratio * 4,
                fewer_norm=spec.fewer_norm,
            )
            blocks: list[nn.Module] = [ResidualBlock(down, shortcut=False)]
            channels = width
            for _ in range(depth):
                if spec.block == "attention":
                    blocks.append(
                        EfficientViTBlock(
                            width,
                            head_dim=config.head_dim,
                            expand_ratio=spec.expand_ratio,
                            scales=spec.scales,
                            norm=norm,
                            act=act,
                        )
                    )
                else:
                    body = block(
                        spec.block,
                        width,
                        width,
                        stride=1,
                        expand_ratio=spec.expand_ratio,
                        fewer_norm=spec.fewer_norm,
                    )
                    blocks.append(ResidualBlock(body))
            stages.append(OpSequential(blocks))
        self.stages = nn.ModuleList(stages)
        self.stage_channels = {f"stage{i}": width for i, width in enumerate(config.widths)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = {}
        for i, stage in enumerate(self.stages):
            features[f"stage{i}"] = x = stage(x)
        return features


def build_backbone(config: BackboneConfig | LargeBackboneConfig) -> nn.Module:
    """The backbone class that fits the config."""
    if isinstance(config, LargeBackboneConfig):
        return EfficientViTLargeBackbone(config)
    return EfficientViTBackbone(config)
