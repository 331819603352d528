"""ImageNet classifiers: an EfficientViT backbone and a pooled MLP head."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from efficientvit.layers import ConvNormAct, LinearNormAct, OpSequential
from efficientvit.layers.types import ActFactory
from efficientvit.models.backbone import BackboneConfig, LargeBackboneConfig, build_backbone
from efficientvit.pretrained import PretrainedMixin


@dataclass(frozen=True)
class ClsHeadConfig:
    """1x1 conv to ``widths[0]``, global average pool, Linear+LayerNorm to ``widths[1]``, classifier."""

    widths: tuple[int, int]
    num_classes: int = 1000
    dropout: float = 0.0


class ClsHead(OpSequential):
    """Classification head over the last backbone stage."""

    def __init__(self, in_channels: int, config: ClsHeadConfig, *, norm_eps: float, act: ActFactory) -> None:
        mid, hidden = config.widths
        super().__init__(
            [
                ConvNormAct(in_channels, mid, 1, norm=partial(nn.BatchNorm2d, eps=norm_eps), act=act),
                nn.AdaptiveAvgPool2d(output_size=1),
                LinearNormAct(mid, hidden, bias=False, norm=partial(nn.LayerNorm, eps=norm_eps), act=act),
                LinearNormAct(hidden, config.num_classes, bias=True, dropout=config.dropout),
            ]
        )


class EfficientViTClassifier(nn.Module, PretrainedMixin):
    """EfficientViT image classifier: ``(B, 3, H, W)`` images to ``(B, num_classes)`` logits."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.last_stage = list(backbone.stage_channels)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[self.last_stage])


def build_classifier(
    backbone: BackboneConfig | LargeBackboneConfig, head: ClsHeadConfig
) -> EfficientViTClassifier:
    """A classifier from its two configs; the head shares the backbone's norm epsilon and activation."""
    trunk = build_backbone(backbone)
    last_channels = list(trunk.stage_channels.values())[-1]
    return EfficientViTClassifier(
        trunk, ClsHead(last_channels, head, norm_eps=backbone.norm_eps, act=backbone.act)
    )
