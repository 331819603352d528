"""A model turned into its fastest exact runner, prepared once and rebuilt when the weights change.

``runner_for(model, "segmenter", backend="auto")`` returns a callable that computes the graph (see
:mod:`efficientvit.runtime.graphs`) on one of four backends:

* ``eager``: the model as it is;
* ``fused``: an eval copy with every BatchNorm folded into its convolution, weights and image inputs in
  channels-last memory format (oneDNN's depthwise convolutions are several times faster in NHWC); for a
  graph with its own faster PyTorch formulation (``Graph.fused``: SAM's many-prompt decoder), that;
* ``compile``: ``torch.compile`` (inductor, ``freezing`` on) of the fused copy; the first call of each input
  shape compiles;
* ``onnxruntime``: our ONNX export (:func:`~efficientvit.export.export_onnx` of
  :func:`~efficientvit.export.optimize.optimize_for_inference`'s copy, LiteMLA's epsilon kept) run by ONNX
  Runtime with ``torch.get_num_threads()`` intra-op threads; exported once into the content-keyed cache of
  :mod:`efficientvit.runtime.cache`, so a later process opens the file and pays nothing else.

``auto`` picks by the measured rules of :mod:`efficientvit.runtime.rules`; if the model cannot be exported
it says so on stderr and runs ``fused``, and without the ``[onnx]`` extra it runs ``fused`` and says once
per process how to install the faster backend (an explicit ``onnxruntime`` raises an error naming the
extra). Every backend computes the same function as ``eager`` to float32
rounding. The environment variable ``EFFICIENTVIT_BACKEND`` (a backend name) overrides what ``auto`` picks,
for every entry point at once; an explicit backend argument is never overridden.

Before every call the runner asks a :class:`~efficientvit.runtime.fingerprint.WeightWatch` whether the
weights changed since it was prepared and prepares again if they did, so ``load_state_dict``, an optimiser
step or ``model.to(...)`` between calls are honoured. Runners live in a weak per-model table: they go
when the model goes, and :func:`release` drops them sooner. Preparing for the CPU also makes the process
reuse freed memory for large tensors (:mod:`efficientvit.runtime.memory`).
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.extras import EXTRAS, install_command, missing_extra, require, require_extra
from efficientvit.runtime.cache import cached_entry, remove_entry
from efficientvit.runtime.fingerprint import WeightWatch, weights_digest
from efficientvit.runtime.graphs import Graph, graph
from efficientvit.runtime.memory import reuse_freed_memory
from efficientvit.runtime.rules import CPU_FALLBACK, auto_backend, measured_backend

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "Backend",
    "Runner",
    "backend_for",
    "onnxruntime_providers",
    "release",
    "resolve_backend",
    "runner_for",
]

BACKENDS: tuple[str, ...] = ("eager", "fused", "compile", "onnxruntime")
Backend = Literal["auto", "eager", "fused", "compile", "onnxruntime"]
BACKEND_ENV = "EFFICIENTVIT_BACKEND"
EXPORT_FORMAT = 1
"""Bumped whenever our exported graphs change: part of every cache key."""
ONNX_FILE = "model.onnx"

Run = Callable[..., Any]


def resolve_backend(backend: str | None) -> str:
    """``backend`` checked (``None`` means ``auto``)."""
    backend = backend or "auto"
    if backend != "auto" and backend not in BACKENDS:
        raise EfficientViTError(f"backend {backend!r} is not one of auto, {', '.join(BACKENDS)}")
    return backend


def _auto_choice(graph_name: str, device: torch.device, dtype: torch.dtype) -> str:
    """What ``auto`` runs: ``$EFFICIENTVIT_BACKEND`` if set, else the measured rule."""
    forced = os.environ.get(BACKEND_ENV)
    if forced:
        if forced not in BACKENDS:
            raise EfficientViTError(f"${BACKEND_ENV}={forced!r} is not one of {', '.join(BACKENDS)}")
        return forced
    return auto_backend(graph_name, device, dtype)


def backend_for(model: nn.Module, graph_name: str, backend: str | None = "auto") -> str:
    """The backend ``runner_for(model, graph_name, backend)`` runs, without preparing anything: ``backend``
    itself, or for ``auto`` what ``$EFFICIENTVIT_BACKEND`` or the measured rules pick for the model's
    device and dtype (``onnxruntime`` may still fall back to ``fused`` if the export fails)."""
    requested = resolve_backend(backend)
    if requested != "auto":
        return requested
    return _auto_choice(graph(graph_name).name, *_placement(model))


def _placement(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    parameter = next(model.parameters(), None)
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype


def _channels_last(inputs: tuple[Any, ...], positions: tuple[int, ...]) -> tuple[Any, ...]:
    return tuple(
        x.contiguous(memory_format=torch.channels_last)
        if i in positions and isinstance(x, torch.Tensor) and x.ndim == 4
        else x
        for i, x in enumerate(inputs)
    )


class Runner:
    """One graph of one model on one backend: call it like the graph's module."""

    def __init__(self, model: nn.Module, spec: Graph, backend: str) -> None:
        self._model = weakref.ref(model)
        self.graph = spec
        self.requested = backend
        """What was asked for (``auto`` or a backend name)."""
        self.backend: str | None = None
        """The backend in use, known once prepared."""
        self.device: torch.device | None = None
        """The model's device when it was last prepared."""
        self._watch: WeightWatch | None = None
        self._run: Run | None = None
        self._eager: Run | None = None
        self._forced: str | None = None
        """``$EFFICIENTVIT_BACKEND`` when ``auto`` was prepared (a change prepares again)."""
        self._fixed_size: tuple[int, int] | None = None
        """(H, W) of an export of fixed size (what other sizes cannot run through)."""

    def __call__(self, *inputs: Any) -> Any:
        model = self._model()
        if model is None:
            raise RuntimeError("the model of this runner no longer exists")
        self._ensure_prepared(model)
        assert self._run is not None
        if not self._fits(inputs):
            if self._eager is None:
                self._eager = self.graph.part(model)
            return self._eager(*inputs)
        if self.backend == "eager":
            return self._run(*inputs)
        with torch.inference_mode():
            return self._run(*inputs)

    def prepare(self) -> Runner:
        """Prepare now (export, compile) instead of on the first call; returns the runner."""
        model = self._model()
        if model is not None:
            self._ensure_prepared(model)
        return self

    def _ensure_prepared(self, model: nn.Module) -> None:
        """Prepare unless prepared for the model's current weights (a failed preparation leaves nothing)."""
        forced = os.environ.get(BACKEND_ENV) if self.requested == "auto" else None
        if (
            self._run is not None
            and self._watch is not None
            and forced == self._forced
            and not self._watch.changed()
        ):
            return
        self._run, self._eager = None, None
        watch = WeightWatch(self.graph.watched(model))
        self._run = self._prepare(model)
        self._watch, self._forced = watch, forced

    def _fits(self, inputs: tuple[Any, ...]) -> bool:
        """Whether the prepared graph takes these inputs: images smaller than the graph's ``min_side``, and
        for an export of fixed size other sizes, run eagerly instead."""
        images = [
            inputs[i]
            for i in self.graph.image_inputs
            if i < len(inputs) and isinstance(inputs[i], torch.Tensor) and inputs[i].ndim == 4
        ]
        if self._fixed_size is not None and any(tuple(x.shape[-2:]) != self._fixed_size for x in images):
            return False
        return all(min(x.shape[-2:]) >= self.graph.min_side for x in images)

    def _prepare(self, model: nn.Module) -> Run:
        device, dtype = _placement(model)
        if device.type == "cpu":
            reuse_freed_memory()
        backend = _auto_choice(self.graph.name, device, dtype) if self.requested == "auto" else self.requested
        if (
            self.requested == "auto"
            and not os.environ.get(BACKEND_ENV)
            and backend != "onnxruntime"
            and measured_backend(self.graph.name, device, dtype) == "onnxruntime"
        ):
            _notice_without_onnx()
        part = self.graph.part(model)
        self._fixed_size = None
        if backend == "onnxruntime":
            try:
                run = self._onnxruntime(model, part, device)
            except Exception as error:
                if self.requested != "auto":
                    raise
                reason = " ".join(str(error).split())[:300]
                print(
                    f"efficientvit: ONNX Runtime cannot run this {self.graph.name} ({reason}); "
                    "running it fused in PyTorch instead",
                    file=sys.stderr,
                )
                backend, run = "fused", self._fused(model, part)
            else:
                info = getattr(model, "info", None)
                if not self.graph.dynamic and info is not None:
                    self._fixed_size = tuple(info.resolution)
        elif backend == "fused":
            run = self._fused(model, part)
        elif backend == "compile":
            run = self._compile(model, part)
        else:
            run = part
        self.backend, self.device = backend, device
        return run

    def _fused(self, model: nn.Module, part: nn.Module) -> Run:
        if self.graph.fused is not None:
            return self.graph.fused(model)
        from efficientvit.export.fuse import fuse_model

        fused = fuse_model(part, channels_last=True)
        positions = self.graph.image_inputs
        return lambda *inputs: fused(*_channels_last(inputs, positions))

    def _compile(self, model: nn.Module, part: nn.Module) -> Run:
        import torch._inductor.config

        from efficientvit.export.fuse import fuse_model

        name = getattr(getattr(model, "info", None), "name", type(model).__name__)
        print(
            f"efficientvit: compiling {name} ({self.graph.name}) with torch.compile; the first call of each "
            "input size takes a while",
            file=sys.stderr,
        )
        compiled = torch.compile(fuse_model(part, channels_last=True))
        positions = self.graph.image_inputs

        def run(*inputs: Any) -> Any:
            with torch._inductor.config.patch(freezing=True):
                return compiled(*_channels_last(inputs, positions))

        return run

    def _onnxruntime(self, model: nn.Module, part: nn.Module, device: torch.device) -> Run:
        from efficientvit.export.onnxruntime import OnnxRuntimeModel

        require_extra("onnx", "the backend 'onnxruntime'")
        providers = onnxruntime_providers(device)
        for attempt in range(2):
            entry = self._export(model, part)
            try:
                session = OnnxRuntimeModel(
                    entry / ONNX_FILE,
                    providers=providers,
                    threads=torch.get_num_threads(),
                    spinning=self.graph.onnxruntime_spinning,
                )
                break
            except EfficientViTError as error:
                if attempt:
                    raise
                remove_entry(entry, " ".join(str(error).split())[:200])
        if not self.graph.single_item:
            return session

        def one_at_a_time(*inputs: torch.Tensor) -> Any:
            if inputs[0].shape[0] == 1:
                return session(*inputs)
            outputs = [session(*(x[i : i + 1] for x in inputs)) for i in range(inputs[0].shape[0])]
            if isinstance(outputs[0], tuple):
                return tuple(torch.cat(parts) for parts in zip(*outputs, strict=True))
            return torch.cat(outputs)

        return one_at_a_time

    def _export(self, model: nn.Module, part: nn.Module) -> Any:
        from efficientvit import __version__
        from efficientvit.export.onnx import export_onnx
        from efficientvit.export.optimize import optimize_for_inference

        info = getattr(model, "info", None)
        name = getattr(info, "name", type(model).__name__)
        key = {
            "graph": self.graph.name,
            "dynamic": self.graph.dynamic,
            "module": f"{type(part).__module__}.{type(part).__qualname__}",
            "model": name,
            "config": repr((info.backbone, info.head, info.resolution)) if info is not None else None,
            "weights": weights_digest(self.graph.watched(model)),
            "format": EXPORT_FORMAT,
            "versions": {
                "efficientvit": __version__,
                "torch": torch.__version__,
                **{name: require(name, "the backend 'onnxruntime'").__version__ for name in EXTRAS["onnx"]},
            },
        }

        def build(folder: Any) -> None:
            with torch.inference_mode(False), torch.no_grad():  # export traces outside inference mode
                export_onnx(optimize_for_inference(part), folder / ONNX_FILE, dynamic=self.graph.dynamic)

        announce = f"efficientvit: preparing {name} ({self.graph.name}) for ONNX Runtime: exporting it"
        return cached_entry(f"{name}-{self.graph.name}", key, build, announce=announce)


def onnxruntime_providers(device: torch.device) -> list[str]:
    """ONNX Runtime's execution providers for a model on ``device`` (cpu, or cuda with onnxruntime-gpu)."""
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if device.type != "cuda":
        raise EfficientViTError(f"ONNX Runtime runs on the device cpu or cuda, not {device}")
    try:
        import onnxruntime
    except ImportError:
        raise missing_extra(f"ONNX Runtime on {device}", "onnxruntime-gpu") from None
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise EfficientViTError(
            f"ONNX Runtime runs a model on {device} only with its CUDA provider: "
            "pip install onnxruntime-gpu, or use the backend 'fused' (or 'auto')"
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


@functools.cache
def _notice_without_onnx() -> None:
    """Say once per process that ``auto`` runs PyTorch on a CPU where ONNX Runtime would be faster."""
    print(
        f"efficientvit: ONNX Runtime is not installed, so backend 'auto' runs PyTorch ({CPU_FALLBACK}); "
        f"it is 1.6-2.9x faster on a CPU with {install_command('onnx')}",
        file=sys.stderr,
    )


_RUNNERS: weakref.WeakKeyDictionary[nn.Module, dict[tuple[str, str], Runner]] = weakref.WeakKeyDictionary()


def runner_for(model: nn.Module, graph_name: str, backend: str | None = "auto") -> Runner | nn.Module:
    """The runner of ``model``'s graph ``graph_name`` on ``backend`` (``None`` means ``auto``), prepared on
    its first call and kept for the model's lifetime.

    An :class:`~efficientvit.export.OnnxRuntimeModel` (an exported file opened by the user) is already a
    runner: it is returned as it is."""
    from efficientvit.export.onnxruntime import OnnxRuntimeModel

    requested = resolve_backend(backend)
    if isinstance(model, OnnxRuntimeModel):
        return model
    spec = graph(graph_name)
    runners = _RUNNERS.setdefault(model, {})
    runner = runners.get((spec.name, requested))
    if runner is None:
        runner = runners[(spec.name, requested)] = Runner(model, spec, requested)
    return runner


def release(model: nn.Module) -> None:
    """Drop every prepared runner of ``model`` (the next call prepares again; the disk cache stays)."""
    _RUNNERS.pop(model, None)
