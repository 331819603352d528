"""Inference with EfficientViT-SAM: promptable masks (:class:`SamPredictor`) and automatic masks
(:class:`SamAutomaticMaskGenerator`), with segment-anything's API.

The classes are imported on first use, so that ``import efficientvit.sam`` stays light (segment-anything,
torchvision's ops and pycocotools load with them, not before).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from efficientvit.sam.automatic import SamAutomaticMaskGenerator
    from efficientvit.sam.predictor import EncodedImage, SamPredictor

__all__ = ["EncodedImage", "SamAutomaticMaskGenerator", "SamPredictor"]

_HOMES = {
    "EncodedImage": "efficientvit.sam.predictor",
    "SamAutomaticMaskGenerator": "efficientvit.sam.automatic",
    "SamPredictor": "efficientvit.sam.predictor",
}


def __getattr__(name: str) -> Any:
    """The public classes, imported from their modules on first access (PEP 562)."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
