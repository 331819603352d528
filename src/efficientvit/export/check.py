"""The check of an export: ONNX Runtime against PyTorch on one random input, and what the file holds."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from efficientvit.extras import require
from efficientvit.models.sam.model import EMBED_DIM, EMBEDDING_SIZE, PROMPT_FRAME
from efficientvit.tasks.sam import LOW_RES

__all__ = ["describe", "example_inputs", "max_difference"]

SEED = 0
"""The seed of the random check input, so that a check can be repeated exactly."""


def example_inputs(model: nn.Module, size: tuple[int, int] | None) -> tuple[torch.Tensor, ...]:
    """A random input of batch 1 for the check: an image of ``size``, or for the SAM decoder an embedding,
    one click and a box, and no mask input."""
    generator = torch.Generator().manual_seed(SEED)
    if size is None:  # SamPromptDecoder
        return (
            torch.randn(1, EMBED_DIM, EMBEDDING_SIZE, EMBEDDING_SIZE, generator=generator),
            torch.rand(1, 3, 2, generator=generator) * PROMPT_FRAME,
            torch.tensor([[1.0, 2.0, 3.0]]),  # a foreground click, then the box's two corners
            torch.zeros(1, 1, LOW_RES, LOW_RES),
            torch.zeros(1),
        )
    return (torch.randn(1, 3, *size, generator=generator),)


def _as_tuple(output: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return output if isinstance(output, tuple) else (output,)


def max_difference(
    model: nn.Module, runtime: nn.Module, inputs: tuple[torch.Tensor, ...]
) -> tuple[float, bool, list[tuple[int, ...]]]:
    """The largest |ONNX Runtime - PyTorch| over all outputs, whether every output is within the golden
    tolerance (``1e-4 * max|PyTorch| + 1e-5``, per output), and the output shapes."""
    from efficientvit.reference import golden_tolerance

    with torch.inference_mode():
        expected = _as_tuple(model(*inputs))
    ours = _as_tuple(runtime(*inputs))
    differences = [(a.float() - b.float()).abs().max().item() for a, b in zip(ours, expected, strict=True)]
    within = all(d <= golden_tolerance(e.float()) for d, e in zip(differences, expected, strict=True))
    return max(differences), within, [tuple(out.shape) for out in ours]


def describe(path: Path) -> tuple[int, int | None]:
    """Bytes of the ONNX file plus any external weight files it references, and its ONNX opset."""
    onnx = require("onnx", "efficientvit export")
    proto = onnx.load(str(path), load_external_data=False)
    locations = {
        entry.value
        for tensor in proto.graph.initializer
        for entry in tensor.external_data
        if entry.key == "location"
    }
    size = path.stat().st_size + sum((path.parent / name).stat().st_size for name in locations)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    return size, opset
