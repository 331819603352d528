"""EfficientViT-SAM: image encoder, and segment-anything's prompt encoder and mask decoder."""

from efficientvit.models.sam.image_encoder import EfficientViTSamImageEncoder, SamNeck, SamNeckConfig
from efficientvit.models.sam.model import EfficientViTSam, build_sam

__all__ = ["EfficientViTSam", "EfficientViTSamImageEncoder", "SamNeck", "SamNeckConfig", "build_sam"]
