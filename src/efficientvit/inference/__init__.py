"""Inference on uint8 image tensors: ImageNet classification and semantic segmentation with renderings."""

from efficientvit.inference.classification import classify, preprocess_classification
from efficientvit.inference.segmentation import colorize, overlay, segment

__all__ = ["classify", "colorize", "overlay", "preprocess_classification", "segment"]
