"""EfficientViT backbones: B-series (Cai et al., ICCV 2023, Fig. 4) and the later L-series.

Both return a dict of named stage features, ``stage0`` (stride 2) to ``stage4`` (stride 32), so that
task heads can pick the scales they need and read the channel counts from ``backbone.stage_channels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from efficientvit.errors import EfficientViTError
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
from efficientvit.models.timm_api import Indices, feature_take_indices

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
    in_channels: int = 3


@dataclass(frozen=True)
class LargeStage:
    """One stage of an L-series backbone: its block type, expansion, and whether local blocks skip
    the inner norms (using biases instead)."""

    block: Literal["res", "fused_mb", "mb", "attention"]
    expand_ratio: float
    fewer_norm: bool = False
    scales: tuple[int, ...] = (5,)


OUTPUT_STRIDE = 32
"""The deepest stage's stride: dense predictors (segmenters) take image sides that are multiples of it."""

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
    in_channels: int = 3


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


class StagedBackbone(nn.Module):
    """What both backbones share: their stages in order and timm's feature API over them.

    timm numbers the stages after the stem: its index ``i`` is our ``stage{i + 1}``.
    """

    __jit_unused_properties__ = ("num_features", "feature_info")

    first_conv: str
    """Module name of the stem's convolution, relative to the backbone."""

    def __init__(self) -> None:
        super().__init__()
        self.grad_checkpointing = False

    def named_stages(self) -> list[tuple[str, nn.Module]]:
        """Every stage with its module name, the stem (``stage0``) first."""
        raise NotImplementedError

    def _keep_stages(self, count: int) -> None:
        """Drop every stage after the first ``count`` (the stem included)."""
        raise NotImplementedError

    def _checkpointing(self) -> bool:
        return self.grad_checkpointing and self.training and torch.is_grad_enabled()

    @property
    def num_features(self) -> int:
        """Channels of the last stage (what ``forward_features`` returns), as in timm."""
        return list(self.stage_channels.values())[-1]

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """timm's feature info of each stage after the stem: channels, stride and module name."""
        channels = list(self.stage_channels.values())
        return [
            {"num_chs": channels[i], "reduction": 2 ** (i + 1), "module": name}
            for i, (name, _) in enumerate(self.named_stages())
            if i > 0
        ]

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage in the backward pass while training (less memory, same gradients)."""
        self.grad_checkpointing = enable

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's map ``(B, C, H / 32, W / 32)``, timm's unpooled features."""
        return self.forward(x)[self.last_stage]

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Indices = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's ``forward_intermediates``: the stage maps at ``indices`` (None: all, int n: the last n),
        with the final map unless ``intermediates_only``; ``stop_early`` skips the stages after the last
        one taken. ``norm`` is accepted for timm's signature (these backbones have no final norm)."""
        if output_fmt != "NCHW":
            raise EfficientViTError(f"output_fmt={output_fmt!r}; EfficientViT features are NCHW only")
        stages = [stage for _, stage in self.named_stages()]
        take, last = feature_take_indices(len(stages) - 1, indices)
        run = stages[: last + 2] if stop_early else stages
        intermediates = []
        for i, stage in enumerate(run):
            x = checkpoint(stage, x, use_reentrant=False) if self._checkpointing() else stage(x)
            if i - 1 in take:
                intermediates.append(x)
        return intermediates if intermediates_only else (x, intermediates)

    def prune_intermediate_layers(
        self, indices: Indices = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """timm's ``prune_intermediate_layers``: drop the stages after the last of ``indices``; returns
        the indices taken."""
        take, last = feature_take_indices(len(self.stage_channels) - 1, indices)
        self._keep_stages(last + 2)
        self.stage_channels = dict(list(self.stage_channels.items())[: last + 2])
        self.last_stage = list(self.stage_channels)[-1]
        return take


class EfficientViTBackbone(StagedBackbone):
    """EfficientViT-B backbone (B0-B3): stem + DSConv, MBConv stages at strides 4/8, EfficientViT
    blocks at strides 16/32."""

    first_conv = "input_stem.op_list.0.conv"

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        norm = partial(nn.BatchNorm2d, eps=config.norm_eps)
        act = config.act
        widths, depths = config.widths, config.depths
        block = partial(local_block, norm=norm, act=act)

        stem: list[nn.Module] = [ConvNormAct(config.in_channels, widths[0], 3, stride=2, norm=norm, act=act)]
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
        self.last_stage = list(self.stage_channels)[-1]

    def named_stages(self) -> list[tuple[str, nn.Module]]:
        """The input stem, then the four stages."""
        return [("input_stem", self.input_stem)] + [(f"stages.{i}", s) for i, s in enumerate(self.stages)]

    def _keep_stages(self, count: int) -> None:
        self.stages = nn.ModuleList(list(self.stages)[: count - 1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.input_stem(x)
        features = {"stage0": x}
        for i, stage in enumerate(self.stages):
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
            features["stage" + str(i + 1)] = x
        return features


class EfficientViTLargeBackbone(StagedBackbone):
    """EfficientViT-L backbone (L0-L3, and the SAM-XL variants): per-stage block types from the config."""

    first_conv = "stages.0.op_list.0.conv"

    def __init__(self, config: LargeBackboneConfig) -> None:
        super().__init__()
        self.config = config
        norm = partial(nn.BatchNorm2d, eps=config.norm_eps)
        act = config.act
        block = partial(local_block, norm=norm, act=act)

        first = config.stages[0]
        width0 = config.widths[0]
        stage0: list[nn.Module] = [ConvNormAct(config.in_channels, width0, 3, stride=2, norm=norm, act=act)]
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
        self.last_stage = list(self.stage_channels)[-1]

    def named_stages(self) -> list[tuple[str, nn.Module]]:
        """Every stage, the stem (``stages.0``) included."""
        return [(f"stages.{i}", stage) for i, stage in enumerate(self.stages)]

    def _keep_stages(self, count: int) -> None:
        self.stages = nn.ModuleList(list(self.stages)[:count])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features: dict[str, torch.Tensor] = {}
        for i, stage in enumerate(self.stages):
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
            features["stage" + str(i)] = x
        return features


def build_backbone(config: BackboneConfig | LargeBackboneConfig) -> nn.Module:
    """The backbone class that fits the config."""
    if isinstance(config, LargeBackboneConfig):
        return EfficientViTLargeBackbone(config)
    return EfficientViTBackbone(config)
