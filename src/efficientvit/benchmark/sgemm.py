"""The machine's float32 matrix-multiply throughput, the yardstick of "how much of the machine a model uses".

A model that does ``M`` multiply-accumulates in ``t`` seconds computes ``2 M / t`` FLOP/s; divided by the
throughput of one large square ``torch.mm`` at the same thread count (what BLAS reaches on this machine
at best) it gives the fraction of the machine's dense compute the model reaches (:func:`sgemm_fraction`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SgemmPeak:
    """Throughput of ``size x size`` float32 matrix products at ``threads`` threads."""

    gflops: float
    """The best of the repeats: the peak the fraction is taken against."""
    median_gflops: float
    size: int
    threads: int
    repeats: int

    def describe(self) -> str:
        return (
            f"sgemm {self.size}x{self.size}x{self.size} float32, threads: {self.threads}; peak "
            f"{self.gflops:.1f} GFLOP/s (median {self.median_gflops:.1f}, {self.repeats} runs)"
        )


def measure_sgemm(size: int = 2048, *, repeats: int = 10, warmup: int = 2) -> SgemmPeak:
    """Time ``torch.mm`` of two random ``size x size`` float32 matrices into a preallocated output (so
    that no page faults are timed) at the current ``torch.get_num_threads()``."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    out = torch.empty(size, size)
    flops = 2.0 * size**3
    rates = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            rates.append(flops / elapsed / 1e9)
    return SgemmPeak(
        gflops=max(rates),
        median_gflops=statistics.median(rates),
        size=size,
        threads=torch.get_num_threads(),
        repeats=repeats,
    )


def sgemm_fraction(macs: int, latency_ms: float, peak_gflops: float) -> float:
    """The fraction of ``peak_gflops`` a run of ``macs`` multiply-accumulates in ``latency_ms`` reaches."""
    return 2.0 * macs / (latency_ms / 1e3) / 1e9 / peak_gflops
