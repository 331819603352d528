"""PyTorch work right before an ONNX Runtime call on a CPU: keep torch's OpenMP workers off the cores.

After a parallel region PyTorch's OpenMP workers keep spinning for a few milliseconds before they sleep,
and an ONNX Runtime session called in that window shares the cores with them. Measured on 2 cores (AMD
EPYC, torch 2.14.1, onnxruntime 1.32.0, ``efficientvit-b1`` at 224, medians of 40 calls): the classifier's
preprocessing takes 0.5-0.8 ms on one torch thread or on two; the session call alone 13.5-15 ms; the
same call right after two-thread preprocessing 21-25 ms, and right after one-thread preprocessing
14-15 ms. With ``OMP_WAIT_POLICY=PASSIVE`` set before torch is imported the gap disappears, which is what
names the spinning as its cause.

Only short sessions gain: the same change measured within noise for ``segment`` at 1024x2048 (its
preprocessing 17 -> 20 ms, the call about 0.9 s) and for ``SamPredictor.set_image`` (about 0.55 s), so
:func:`one_torch_thread_before` is used where the session call takes tens of milliseconds: ``classify``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["one_torch_thread_before", "runs_onnxruntime_on_cpu"]


def runs_onnxruntime_on_cpu(run: object) -> bool:
    """Whether ``run`` (a prepared runner of :func:`~efficientvit.runtime.runner_for`, or an opened
    :class:`~efficientvit.export.OnnxRuntimeModel`) calls an ONNX Runtime session on the CPU."""
    session = getattr(run, "session", None)
    if session is not None:  # an OnnxRuntimeModel
        return session.get_providers()[0] == "CPUExecutionProvider"
    return getattr(run, "backend", None) == "onnxruntime" and getattr(run, "device", None) == torch.device(
        "cpu"
    )


@contextlib.contextmanager
def one_torch_thread_before(run: object) -> Iterator[None]:
    """Around the small PyTorch work that makes ``run``'s inputs: one torch thread while it runs when
    ``run`` is an ONNX Runtime session on the CPU (see the module's measurements), else nothing changes.
    A runner is prepared first (its backend is known only then).

    ``torch.set_num_threads`` is process-wide: PyTorch work in other Python threads at the same moment also
    runs on one thread for that time."""
    prepare = getattr(run, "prepare", None)
    if callable(prepare):
        prepare()
    threads = torch.get_num_threads()
    if threads == 1 or not runs_onnxruntime_on_cpu(run):
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
