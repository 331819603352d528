"""EfficientViT: multi-scale ReLU linear attention for high-resolution dense prediction.

Cai et al., "EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction", ICCV 2023.
"""

from efficientvit.errors import EfficientViTError
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
