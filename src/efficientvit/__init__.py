"""EfficientViT: multi-scale ReLU linear attention for high-resolution dense prediction.

Cai et al., "EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction", ICCV 2023.
"""

from efficientvit.errors import EfficientViTError
from efficientvit.zoo import ModelInfo, create_model, get_model_info, list_models

__all__ = ["EfficientViTError", "ModelInfo", "create_model", "get_model_info", "list_models"]
__version__ = "0.1.0"
