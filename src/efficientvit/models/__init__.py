"""EfficientViT models: backbones and task models built from small frozen configs."""

from efficientvit.models.backbone import (
    BACKBONES,
    BackboneConfig,
    EfficientViTBackbone,
    EfficientViTLargeBackbone,
    LargeBackboneConfig,
    LargeStage,
    build_backbone,
)
from efficientvit.models.classification import ClsHeadConfig, EfficientViTClassifier, build_classifier
from efficientvit.models.segmentation import EfficientViTSeg, SegHeadConfig, build_segmenter

__all__ = [
    "BACKBONES",
    "BackboneConfig",
    "ClsHeadConfig",
    "EfficientViTBackbone",
    "EfficientViTClassifier",
    "EfficientViTLargeBackbone",
    "EfficientViTSeg",
    "LargeBackboneConfig",
    "LargeStage",
    "SegHeadConfig",
    "build_backbone",
    "build_classifier",
    "build_segmenter",
]
