"""How ``backend="auto"`` chooses: measured rules, one per graph and device type.

CPU rules were measured on this project's 2-core machine (AMD EPYC, 2 threads, batch 1, float32, random
weights, median of 3-10 calls after a warm-up, all rows of one graph in one process; torch 2.14.1,
onnxruntime 1.32). ``fused`` = BatchNorm folded + channels-last, ``compile`` = torch.compile of that with
freezing, ``onnxruntime`` = our ONNX export (bicubic resizes as matmuls) in ONNX Runtime's CPU provider:

==================  =========================  =======  =======  =======  ===========  ========
graph               model, input               eager    fused    compile  onnxruntime  chosen
==================  =========================  =======  =======  =======  ===========  ========
classifier          B1, 224x224                45 ms    29 ms    -        12-18 ms     onnxrt
segmenter           seg-B1, 1024x2048          3714 ms  1980 ms  -        704 ms       onnxrt
sam_image_encoder   SAM-L0, 512x512            888 ms   709 ms   1238 ms  488 ms       onnxrt
sam_prompt_decoder  SAM-L0, one box            82 ms    -        -        71 ms        onnxrt
upscaler            SR full-x2, 304x304 tile   see below
==================  =========================  =======  =======  =======  ===========  ========

On CUDA nothing has been measured yet (no GPU was available to this work): ``fused`` (folded BatchNorm,
channels-last, float32) is the safe exact choice there until a measurement says otherwise. Models in another
dtype than float32, and other devices, run ``fused`` and ``eager`` respectively. Where ``onnxruntime`` is
chosen but not installed, ``fused`` runs instead.
"""

from __future__ import annotations

import importlib.util

import torch

__all__ = ["CPU_RULES", "auto_backend"]

CPU_RULES: dict[str, str] = {
    "classifier": "onnxruntime",
    "segmenter": "onnxruntime",
    "sam_image_encoder": "onnxruntime",
    "sam_prompt_decoder": "onnxruntime",
    "upscaler": "fused",
}
"""The fastest exact backend of each graph on a CPU, for float32 models (see the table above)."""


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def auto_backend(graph: str, device: torch.device, dtype: torch.dtype) -> str:
    """The backend ``auto`` runs ``graph`` with, for a model on ``device`` with parameters of ``dtype``."""
    if device.type == "cpu" and dtype == torch.float32:
        choice = CPU_RULES.get(graph, "fused")
        if choice == "onnxruntime" and not onnxruntime_available():
            return "fused"
        return choice
    if device.type in ("cpu", "cuda"):
        return "fused"
    return "eager"
