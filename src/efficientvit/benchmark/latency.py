"""Wall-clock latency of a forward pass: warm-up runs, then the median of timed repeats."""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Latency:
    """Timings of one model on one input, in milliseconds."""

    median_ms: float
    min_ms: float
    repeats: int


def measure_latency(model: nn.Module, x: torch.Tensor, *, warmup: int = 2, repeats: int = 5) -> Latency:
    """Time ``model(x)`` under ``torch.inference_mode``; CUDA work is synchronised before each reading."""
    synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            synchronize()
            start = time.perf_counter()
            model(x)
            synchronize()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return Latency(median_ms=statistics.median(times), min_ms=min(times), repeats=repeats)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux; the platform's processor name elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine_description() -> str:
    """CPU model, cores, torch threads and torch version: printed beside every timing."""
    cpu = cpu_model()
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"
