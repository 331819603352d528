"""EfficientViT: multi-scale ReLU linear attention for high-resolution dense prediction.

Cai et al., "EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction", ICCV 2023.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# PyTorch's switch for transparent huge pages on large CPU tensors (read once, at the first large
# allocation). Without it every tensor of over 32 MB is a fresh mmap whose pages fault in one 4 KiB page at a
# time, on every call: the time above the linear trend of EfficientViT-SR at 1024x1024 (README). Set
# THP_MEM_ALLOC_ENABLE=0 before importing to opt out.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from efficientvit.errors import EfficientViTError
from efficientvit.lazy import lazy_attributes

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

# Imported on first use, so that the command line starts without PyTorch (it refuses a bad input path
# within a second).
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "ModelInfo": "efficientvit.zoo",
        "create_model": "efficientvit.zoo",
        "get_model_info": "efficientvit.zoo",
        "list_models": "efficientvit.zoo",
        "from_pretrained": "efficientvit.pretrained",
        "push_to_hub": "efficientvit.pretrained",
        "save_pretrained": "efficientvit.pretrained",
    },
    globals(),
)
