"""Deployment: BatchNorm folding, ONNX export, and an ONNX Runtime runner that keeps the model's metadata.

``onnx``/``onnxscript`` (export) and ``onnxruntime`` (running) are imported only when used.
"""

from efficientvit.export.fuse import count_fused, fold_batch_norms, fuse_model
from efficientvit.export.onnx import SamPromptDecoder, count_attention_epsilons, export_onnx
from efficientvit.export.onnxruntime import OnnxRuntimeModel

__all__ = [
    "OnnxRuntimeModel",
    "SamPromptDecoder",
    "count_attention_epsilons",
    "count_fused",
    "export_onnx",
    "fold_batch_norms",
    "fuse_model",
]
