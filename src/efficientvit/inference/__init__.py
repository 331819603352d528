"""Inference on uint8 image tensors: classification, semantic segmentation with renderings, upscaling."""

from efficientvit.inference.classification import classify, preprocess_classification
from efficientvit.inference.segmentation import colorize, overlay, segment
from efficientvit.inference.super_resolution import upscale, upscale_float

__all__ = [
    "classify",
    "colorize",
    "overlay",
    "preprocess_classification",
    "segment",
    "upscale",
    "upscale_float",
]
