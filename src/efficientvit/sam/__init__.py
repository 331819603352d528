"""Inference with EfficientViT-SAM: promptable masks (:class:`SamPredictor`) and automatic masks
(:class:`SamAutomaticMaskGenerator`), with segment-anything's API."""

from efficientvit.sam.automatic import SamAutomaticMaskGenerator
from efficientvit.sam.predictor import EncodedImage, SamPredictor

__all__ = ["EncodedImage", "SamAutomaticMaskGenerator", "SamPredictor"]
