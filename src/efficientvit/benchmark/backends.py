"""The ways of running one of our models that the benchmark compares, each prepared once and then timed.

Every backend is prepared by the library's runtime (:func:`efficientvit.runtime.runner_for`), so the
benchmark times exactly what ``segment``, ``classify`` and ``SamPredictor`` run; this module keeps no copy of
how a backend is built (see :mod:`efficientvit.runtime.runner` for what each one does):

* ``eager``: the model as built (``create_model``), NCHW input: plain PyTorch.
* ``fused``: BatchNorms folded into the convolutions, weights and input channels-last.
* ``compile``: ``torch.compile`` (inductor, ``freezing`` on) of the fused model; the compile is the first
  call, which is counted in the setup time.
* ``onnxruntime``: the runtime's ONNX export (dynamic height and width for segmenters, fixed for
  classifiers and the SAM image encoder) in ONNX Runtime's CPU provider, intra-op threads = ``threads``.
  Setup = export + session creation.

The graph is the one the model's task runs first (``get_task(model.info.task).graphs[0]``: classifier,
segmenter, sam_image_encoder for an EfficientViT-SAM, upscaler). The export cache is pointed at ``workdir``
while a backend is prepared (:func:`export_cache_at`), so that an export is really done, and timed, in every
benchmark run. A runner checks the model's weights before each call (so the timed call includes that check,
as for users); its first output is compared with eager by the caller. Inputs are converted once, outside the
timed call (a channels-last input is what an image decoder produces anyway).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.runtime import BACKENDS, Runner, release, runner_for
from efficientvit.tasks.registry import get_task

__all__ = ["BACKENDS", "CACHE_ENV", "PreparedBackend", "export_cache_at", "graph_of", "prepare_backend"]

CACHE_ENV = "EFFICIENTVIT_CACHE"
DEFAULT_GRAPH = "classifier"
"""The graph of a model without registry metadata: the whole module on one image input."""


@dataclass
class PreparedBackend:
    """A ready-to-time backend: ``run()`` computes the model on the benchmark input."""

    name: str
    run: Callable[[], torch.Tensor]
    output: torch.Tensor
    """The first output (to compare with eager)."""
    setup_s: float
    """Seconds to prepare it: folding, compiling (the first call), or exporting and opening a session."""


@contextmanager
def export_cache_at(folder: Path) -> Iterator[Path]:
    """Point the runtime's export cache (``$EFFICIENTVIT_CACHE``) at ``folder`` inside the block; the previous
    value (or its absence) is restored after."""
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's thread count set to ``threads`` inside the block (the runtime gives ONNX Runtime as many)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def graph_of(model: nn.Module) -> str:
    """The runtime graph the benchmark times for ``model``: the first graph of its task."""
    info = getattr(model, "info", None)
    if info is None:
        return DEFAULT_GRAPH
    return get_task(info.task).graphs[0]


def prepare_backend(
    name: str,
    model: nn.Module,
    x: torch.Tensor,
    *,
    workdir: Path,
    threads: int | None = None,
    graph: str | None = None,
) -> PreparedBackend:
    """Prepare ``model`` (eval mode, untouched) to run on ``x`` with the backend ``name``, by the runtime.

    ``workdir`` holds the export cache of this preparation; ``threads`` is ONNX Runtime's intra-op thread
    count (default: torch's); ``graph`` defaults to :func:`graph_of` the model. The setup time covers
    preparing the runner and its first call (where ``compile`` compiles). Raises ``EfficientViTError`` for an
    unknown backend or a model the backend cannot run.
    """
    if name not in BACKENDS:
        raise EfficientViTError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    graph = graph or graph_of(model)
    model.eval()
    if name in ("fused", "compile"):
        x = x.contiguous(memory_format=torch.channels_last)  # what the runner would convert on every call
    if name == "compile":
        from torch import _dynamo

        _dynamo.reset()  # a fresh compile per (model, resolution): no stale guards or cache limits
    release(model)  # a runner prepared earlier for this model would make the setup look free
    start = time.perf_counter()
    with export_cache_at(workdir), _torch_threads(threads):
        try:
            runner = runner_for(model, graph, name)
            if isinstance(runner, Runner):
                runner.prepare()
            with torch.inference_mode():
                output = runner(x)  # compiles, for `compile`
        except EfficientViTError:
            raise
        except Exception as error:
            reason = " ".join(str(error).split())[:300]
            raise EfficientViTError(f"the backend {name} cannot run this model: {reason}") from error
    setup_s = time.perf_counter() - start
    release(model)  # the benchmark holds the runner; the model's table must not keep it for later rows
    return PreparedBackend(name=name, run=lambda: runner(x), output=output, setup_s=setup_s)
