"""EfficientViT: multi-scale ReLU linear attention for high-resolution dense prediction.

Cai et al., "EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction", ICCV 2023.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from efficientvit.errors import EfficientViTError

if TYPE_CHECKING:
    from efficientvit.pretrained import from_pretrained, push_to_hub, save_pretrained
    from efficientvit.zoo import ModelInfo, create_model, get_model_info, list_models

__all__ = [
    "EfficientViTError",
    "ModelInfo",
    "create_model",
    "from_pretrained",
    "get_model_info",
    "list_models",
    "push_to_hub",
    "save_pretrained",
]
__version__ = "0.1.0"

_LAZY = {
    "ModelInfo": "efficientvit.zoo",
    "create_model": "efficientvit.zoo",
    "get_model_info": "efficientvit.zoo",
    "list_models": "efficientvit.zoo",
    "from_pretrained": "efficientvit.pretrained",
    "push_to_hub": "efficientvit.pretrained",
    "save_pretrained": "efficientvit.pretrained",
}
"""Public names imported on first use (PEP 562), so that ``efficientvit`` on the command line starts without
importing PyTorch: it refuses a bad input path within a second, and ``--help`` is instant."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'efficientvit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
