"""The graphs a runner can prepare: which part of a model each task runs, and how it is exported.

A graph names a module computed from the model (the whole model, or SAM's prompt decoder), the ONNX shape
policy its export uses, and which of its inputs are NCHW images (channels-last for ``fused``/``compile``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["GRAPHS", "Graph", "graph"]


@dataclass(frozen=True)
class Graph:
    """One exportable computation of a task's model."""

    name: str
    part: Callable[[nn.Module], nn.Module]
    """The module this graph computes, built from the model (shares its parameters)."""
    dynamic: bool
    """Exported with dynamic shapes (one file serves every size) rather than fixed at ``info.resolution``."""
    single_item: bool = False
    """The exported graph takes a batch of one: larger batches run one item at a time."""
    image_inputs: tuple[int, ...] = (0,)
    """Positions of the NCHW image inputs."""
    min_side: int = 1
    """Smaller inputs run eagerly (the exported dynamic shapes start there)."""
    watched: Callable[[nn.Module], nn.Module] = lambda model: model
    """The module whose weights the graph computes with: a change there means preparing again (SAM's
    encoder graph watches the encoder alone, so fine-tuning the decoder never re-exports it)."""
    fused: Callable[[nn.Module], nn.Module] | None = None
    """What the ``fused`` backend runs, when the graph has a faster PyTorch formulation of ``part`` than
    folding its BatchNorms (it shares the model's parameters); ``None``: the folded channels-last copy."""
    onnxruntime_spinning: bool = True
    """Whether ONNX Runtime's CPU threads spin after each parallel section (its default). They keep the cores
    for a while after the session returns, so a graph whose outputs meet heavy PyTorch work turns it off.
    Measured on 2 cores (seg-B1 at 1024x2048, ``segment()``, four alternating processes, medians of 5):
    487-511 ms spinning against 417-460 ms not, the session alone within noise; ``classify`` (B1 at 224)
    took 8.9-9.3 ms spinning against 10.5-10.6 ms not, and ``SamPredictor.set_image`` was within noise."""


def _whole(model: nn.Module) -> nn.Module:
    return model


def _sam_prompt_decoder(model: nn.Module) -> nn.Module:
    from efficientvit.export.onnx import SamPromptDecoder

    return SamPromptDecoder(model, multimask_output=None)  # all four masks: the caller picks


def _sam_many_prompt_decoder(model: nn.Module) -> nn.Module:
    from efficientvit.sam.decoder import ManyPromptDecoder

    return ManyPromptDecoder(model)


GRAPHS: dict[str, Graph] = {
    # Classification always feeds info.resolution: a fixed batch-1 graph exports in about half the time of
    # a dynamic one (7.8 s against 17.4 s for B1) and runs as fast.
    "classifier": Graph("classifier", _whole, dynamic=False, single_item=True),
    # Segmentation feeds any size (multiples of 32): dynamic height and width, as fast as a fixed graph
    # (seg-B1 at 1024x2048, 2 threads, one process: 706 against 704 ms median).
    # Its logits are upsampled and argmaxed in PyTorch right after the session: no spinning.
    "segmenter": Graph("segmenter", _whole, dynamic=True, onnxruntime_spinning=False),
    # The predictor always feeds the encoder's square resolution, one image at a time.
    "sam_image_encoder": Graph(
        "sam_image_encoder", _whole, dynamic=False, single_item=True, watched=lambda sam: sam.image_encoder
    ),
    "sam_prompt_decoder": Graph(
        "sam_prompt_decoder",
        _sam_prompt_decoder,
        dynamic=True,
        image_inputs=(),
        fused=_sam_many_prompt_decoder,
    ),
    # Tiles of every size (the last row and column of tiles are smaller).
    "upscaler": Graph("upscaler", _whole, dynamic=True, min_side=2),
}


def graph(name: str) -> Graph:
    """The graph called ``name``."""
    try:
        return GRAPHS[name]
    except KeyError:
        raise ValueError(f"unknown graph {name!r}; known: {', '.join(GRAPHS)}") from None
