"""EfficientViT-SAM image encoder: an EfficientViT-L backbone and a neck that fuses three stages into
SAM's 256-channel, 64x64 image embedding (Zhang et al., "EfficientViT-SAM", 2024)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import nn

from efficientvit.layers import ConvNormAct, LayerNorm2d, OpSequential, UpSample
from efficientvit.layers.types import ActFactory
from efficientvit.models.backbone import LargeBackboneConfig, build_backbone
from efficientvit.models.fusion import AddFusion, refinement_blocks


@dataclass(frozen=True)
class SamNeckConfig:
    """The neck: which stages it fuses, its width and depth, and the embedding it produces."""

    in_stages: tuple[str, ...]
    depth: int
    expand_ratio: float
    block: Literal["mb", "fused_mb"] = "fused_mb"
    width: int = 256
    out_channels: int = 256
    embedding_size: int = 64


class SamNeck(AddFusion):
    """Projects each stage to ``width``, resizes it to the embedding grid (bicubic), adds, refines."""

    def __init__(
        self, stage_channels: dict[str, int], config: SamNeckConfig, *, norm_eps: float, act: ActFactory
    ) -> None:
        norm = partial(nn.BatchNorm2d, eps=norm_eps)
        grid = (config.embedding_size, config.embedding_size)
        input_ops: dict[str, nn.Module] = {
            name: OpSequential(
                [ConvNormAct(stage_channels[name], config.width, 1, norm=norm, act=None), UpSample(size=grid)]
            )
            for name in config.in_stages
        }
        middle = refinement_blocks(
            config.width,
            config.depth,
            block=config.block,
            expand_ratio=config.expand_ratio,
            norm=norm,
            act=act,
        )
        output = OpSequential(
            [ConvNormAct(config.width, config.out_channels, 1, bias=True, norm=None, act=None)]
        )
        super().__init__(input_ops, middle, output)


class EfficientViTSamImageEncoder(nn.Module):
    """(B, 3, H, W) normalised images to (B, 256, 64, 64) SAM image embeddings, for any H, W."""

    def __init__(self, backbone: LargeBackboneConfig, neck: SamNeckConfig) -> None:
        super().__init__()
        self.backbone = build_backbone(backbone)
        self.neck = SamNeck(self.backbone.stage_channels, neck, norm_eps=backbone.norm_eps, act=backbone.act)
        self.norm = LayerNorm2d(neck.out_channels, eps=backbone.norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.neck(self.backbone(x)))
