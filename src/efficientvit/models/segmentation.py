"""Semantic segmentation: an EfficientViT backbone and the paper's head (Cai et al., ICCV 2023, Fig. 4):
P2/P3/P4 projected to one width, upsampled to stride 8 and added, refined by a few blocks, classified."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.layers import ConvNormAct, OpSequential, UpSample
from efficientvit.layers.types import ActFactory
from efficientvit.models.backbone import OUTPUT_STRIDE, BackboneConfig, LargeBackboneConfig, build_backbone
from efficientvit.models.fusion import AddFusion, refinement_blocks
from efficientvit.pretrained import PretrainedMixin


@dataclass(frozen=True)
class SegHeadConfig:
    """The segmentation head: its width and depth, the refinement block, and the classifier."""

    width: int
    depth: int
    expand_ratio: float
    block: Literal["mb", "fused_mb"]
    final_expand: int | None
    num_classes: int
    dropout: float = 0.0
    feature_strides: tuple[tuple[str, int], ...] = (("stage4", 32), ("stage3", 16), ("stage2", 8))
    stride: int = 8


class SegHead(AddFusion):
    """Fuses P2/P3/P4 by addition at ``config.stride``, refines, and predicts class logits."""

    def __init__(
        self, stage_channels: dict[str, int], config: SegHeadConfig, *, norm_eps: float, act: ActFactory
    ) -> None:
        norm = partial(nn.BatchNorm2d, eps=norm_eps)
        width = config.width
        input_ops: dict[str, nn.Module] = {}
        for name, stride in config.feature_strides:
            project = ConvNormAct(stage_channels[name], width, 1, norm=norm, act=None)
            factor = stride // config.stride
            input_ops[name] = project if factor == 1 else OpSequential([project, UpSample(factor)])
        middle = refinement_blocks(
            width, config.depth, block=config.block, expand_ratio=config.expand_ratio, norm=norm, act=act
        )
        classifier: list[nn.Module] = []
        out_width = width
        if config.final_expand is not None:
            out_width = width * config.final_expand
            classifier.append(ConvNormAct(width, out_width, 1, norm=norm, act=act))
        classifier.append(
            ConvNormAct(
                out_width, config.num_classes, 1, bias=True, dropout=config.dropout, norm=None, act=None
            )
        )
        super().__init__(input_ops, middle, OpSequential(classifier))


class EfficientViTSeg(nn.Module, PretrainedMixin):
    """EfficientViT segmenter: ``(B, 3, H, W)`` images, H and W multiples of 32, to
    ``(B, num_classes, H / 8, W / 8)`` logits (upsample them to the image size yourself)."""

    size_divisor = OUTPUT_STRIDE

    def __init__(self, backbone: nn.Module, head: SegHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % self.size_divisor or width % self.size_divisor:
            raise EfficientViTError(
                f"segmentation input is {height}x{width}; height and width must be multiples of "
                f"{self.size_divisor}: pad the image (efficientvit.inference.segment does this for you)"
            )
        return self.head(self.backbone(x))


def build_segmenter(backbone: BackboneConfig | LargeBackboneConfig, head: SegHeadConfig) -> EfficientViTSeg:
    """A segmenter from its two configs; the head shares the backbone's norm epsilon and activation."""
    trunk = build_backbone(backbone)
    seg_head = SegHead(trunk.stage_channels, head, norm_eps=backbone.norm_eps, act=backbone.act)
    return EfficientViTSeg(trunk, seg_head)
