"""The ways of running one of our models that the benchmark compares, each prepared once and then timed.

* ``eager``: the model as built (``create_model``), NCHW input: plain PyTorch.
* ``fused``: BatchNorms folded into the convolutions (``fuse_model``), weights and input channels-last
  (oneDNN's depthwise convolutions are several times faster in NHWC).
* ``compile``: ``torch.compile`` (inductor) of the fused model with ``freezing`` on (weights become
  constants: oneDNN weight prepacking, conv + activation and conv + residual-add fusion). The compile
  time is the first call, reported apart from the latency.
* ``onnxruntime``: ``export_onnx`` of :func:`~efficientvit.export.optimize.optimize_for_inference`'s
  copy (bicubic resizes as matrix products) at the benchmark resolution, static shape, run by ONNX
  Runtime's CPU provider with all graph optimisations (its default) and intra-op threads = torch threads.
  Setup = export + session creation. ONNX Runtime also keeps its buffers in an arena between runs, where
  PyTorch hands large tensors back to the OS and page-faults them in again on every call.

Every backend computes the same function: the runner reports each one's largest difference from eager,
which stays at float32 rounding. Inputs are converted once, outside the timed call (a channels-last input
is what an image decoder produces anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from efficientvit.errors import EfficientViTError

BACKENDS: tuple[str, ...] = ("eager", "fused", "compile", "onnxruntime")


@dataclass
class PreparedBackend:
    """A ready-to-time backend: ``run()`` computes the model on the benchmark input."""

    name: str
    run: Callable[[], torch.Tensor]
    output: torch.Tensor
    """The first output (to compare with eager)."""
    setup_s: float
    """Seconds to prepare it: folding, compiling (the first call), or exporting and opening a session."""


def prepare_backend(
    name: str, model: nn.Module, x: torch.Tensor, *, workdir: Path, threads: int | None = None
) -> PreparedBackend:
    """Prepare ``model`` (eval mode, untouched) to run on ``x`` with the backend ``name``.

    ``workdir`` holds exported files; ``threads`` is ONNX Runtime's intra-op thread count (default: torch's).
    Raises ``EfficientViTError`` for an unknown backend or a model the backend cannot run.
    """
    prepare = _PREPARERS.get(name)
    if prepare is None:
        raise EfficientViTError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    start = time.perf_counter()
    with torch.inference_mode():
        run = prepare(model.eval(), x, workdir, threads or torch.get_num_threads())
        output = run()  # compiles, for `compile`
    return PreparedBackend(name=name, run=run, output=output, setup_s=time.perf_counter() - start)


def _eager(model: nn.Module, x: torch.Tensor, workdir: Path, threads: int) -> Callable[[], torch.Tensor]:
    return lambda: model(x)


def _fused(model: nn.Module, x: torch.Tensor, workdir: Path, threads: int) -> Callable[[], torch.Tensor]:
    from efficientvit.export.fuse import fuse_model

    fused = fuse_model(model, channels_last=True)
    x = x.contiguous(memory_format=torch.channels_last)
    return lambda: fused(x)


def _compile(model: nn.Module, x: torch.Tensor, workdir: Path, threads: int) -> Callable[[], torch.Tensor]:
    import torch._dynamo
    import torch._inductor.config

    from efficientvit.export.fuse import fuse_model

    torch._dynamo.reset()  # a fresh compile per (model, resolution): no stale guards or cache limits
    compiled = torch.compile(fuse_model(model, channels_last=True))
    x = x.contiguous(memory_format=torch.channels_last)
    with torch._inductor.config.patch(freezing=True):
        compiled(x)  # compilation happens here, under the patched config
    return lambda: compiled(x)


def _onnxruntime(
    model: nn.Module, x: torch.Tensor, workdir: Path, threads: int
) -> Callable[[], torch.Tensor]:
    from efficientvit.export.onnx import export_onnx
    from efficientvit.export.onnxruntime import OnnxRuntimeModel
    from efficientvit.export.optimize import optimize_for_inference

    height, width = x.shape[-2:]
    info = getattr(model, "info", None)
    stem = info.name if info is not None else type(model).__name__
    path = workdir / f"{stem}-{height}x{width}.onnx"
    with torch.inference_mode(False):  # export traces outside inference mode
        export_onnx(optimize_for_inference(model), path, resolution=(height, width), dynamic=False)
    session = OnnxRuntimeModel(path, threads=threads)
    return lambda: session(x)


_PREPARERS: dict[str, Callable[[nn.Module, torch.Tensor, Path, int], Callable[[], torch.Tensor]]] = {
    "eager": _eager,
    "fused": _fused,
    "compile": _compile,
    "onnxruntime": _onnxruntime,
}
