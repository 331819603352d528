"""The EfficientViT-SR designs tried so far, timed side by side in one run.

Run ``python -m efficientvit.benchmark.sr_designs [--sizes 256,512,1024] [--backends fused,onnxruntime]``.
For every design of :data:`DESIGNS` (built as ``efficientvit-sr-full-x2`` with the design's config fields
as overrides; random weights: the cost does not depend on them), every backend and every square input size
it prints the parameters, the MACs per input pixel (``torch.utils.flop_counter``), the median latency of one
x2 forward pass through :func:`efficientvit.runtime.runner_for`, the FLOP rate it reaches, its fraction
of the machine's float32 sgemm peak, measured first in the same run (:mod:`efficientvit.benchmark.sgemm`),
and the time of the first call (the backend's preparation: an export or a compilation, plus one pass).
With several sizes, a last column says how much faster than the pixel count the time grew from the first
size to each later one (1.00: exactly linear). The quality of each design, where one was trained, is in the
README's super-resolution section with the command that printed it.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from efficientvit.benchmark.latency import machine_description
from efficientvit.benchmark.macs import count_macs, count_params
from efficientvit.benchmark.runner import time_call
from efficientvit.benchmark.sgemm import measure_sgemm, sgemm_fraction
from efficientvit.models.super_resolution import SR_CONFIGS, EfficientViTSR, SuperResolutionConfig
from efficientvit.runtime.runner import BACKENDS
from efficientvit.zoo import create_model

__all__ = ["DESIGNS", "DesignTiming", "main", "time_design"]

DESIGNS: dict[str, SuperResolutionConfig] = {
    # The first shipped design: blocks at the input resolution, 8x8 windows, multi-scale aggregation.
    "v1 (input resolution, MBConv)": SuperResolutionConfig(width=48, depth=4, head_dim=16),
    # Blocks at half the input resolution (pixel-unshuffled), MBConv, with and without a full-resolution
    # refinement.
    "half resolution, MBConv": SuperResolutionConfig(width=64, depth=4, body_stride=2, scales=()),
    "half resolution, MBConv, refine 16": SuperResolutionConfig(
        width=64, depth=4, body_stride=2, scales=(), refine_width=16
    ),
    # The same at half resolution with the L series' fused MBConv (a full 3x3 conv expands).
    "half resolution, fused MBConv, depth 3": SuperResolutionConfig(
        width=64, depth=3, body_stride=2, scales=(), ffn="fused_mbconv"
    ),
    "half resolution, fused MBConv, depth 4": SuperResolutionConfig(
        width=64, depth=4, body_stride=2, scales=(), ffn="fused_mbconv"
    ),
}
"""Every design that was measured, by what sets it apart; the shipped one (``SR_CONFIGS["full"]``) is
marked."""


def _with_shipped(
    designs: dict[str, SuperResolutionConfig], shipped: SuperResolutionConfig
) -> dict[str, SuperResolutionConfig]:
    """``designs`` with the shipped design's name marked ``(shipped)``, or added when it is not among them."""
    marked = {
        (f"{name} (shipped)" if config == shipped else name): config for name, config in designs.items()
    }
    if shipped not in designs.values():
        marked["shipped (SR_CONFIGS['full'])"] = shipped
    return marked


@dataclass(frozen=True)
class DesignTiming:
    """One design at one input size."""

    design: str
    backend: str
    size: int
    params: int
    macs: int
    median_ms: float
    sgemm_fraction: float
    first_call_s: float
    """The warm-up call: the backend's preparation plus one pass."""

    @property
    def macs_per_pixel(self) -> float:
        return self.macs / self.size**2


def build_design(config: SuperResolutionConfig) -> EfficientViTSR:
    """``config`` as a registry model (``efficientvit-sr-full-x2`` with every config field overridden), so
    that every backend can prepare it (an ONNX export names its model)."""
    fields = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    model = create_model("efficientvit-sr-full-x2", **fields)
    assert isinstance(model, EfficientViTSR)
    return model


def _random_weights(model: EfficientViTSR, seed: int = 0) -> EfficientViTSR:
    """``model`` with every weight random (an untrained model's detail branch is zero, a shortcut the
    kernels might take)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.02 * torch.randn(parameter.shape, generator=generator))
    return model


def time_design(
    config: SuperResolutionConfig, size: int, *, backend: str, repeats: int, peak_gflops: float, name: str
) -> DesignTiming:
    """Time one forward pass of ``config`` at scale 2 on a ``size`` x ``size`` input (median of ``repeats``
    after one warm-up call) through the runner of ``backend``."""
    from efficientvit.runtime import runner_for

    model = _random_weights(build_design(config).eval())
    macs = count_macs(model, (1, 3, size, size))
    run = runner_for(model, "upscaler", backend)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        start = time.perf_counter()
        run(x)
        first_call_s = time.perf_counter() - start
    median_ms = time_call(lambda: run(x), warmup=0, repeats=repeats).median_ms
    return DesignTiming(
        design=name,
        backend=backend,
        size=size,
        params=count_params(model),
        macs=macs,
        median_ms=median_ms,
        sgemm_fraction=sgemm_fraction(macs, median_ms, peak_gflops),
        first_call_s=first_call_s,
    )


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 16:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of sides >= 16, e.g. 256,512"
        )
    return sizes


def _backends(text: str) -> tuple[str, ...]:
    backends = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown or not backends:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {', '.join(unknown) or 'nothing'} is not a backend; give a comma-separated list of "
            f"{', '.join(BACKENDS)}"
        )
    return backends


def main(argv: Sequence[str] | None = None) -> list[DesignTiming]:
    """Run the measurement, print it, and return its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=(512,), help="square input sides (default 512)")
    parser.add_argument(
        "--backends", type=_backends, default=("fused",), help="comma-separated backends (default fused)"
    )
    parser.add_argument("--repeats", type=int, default=3, choices=range(1, 101), metavar="N")
    parser.add_argument("--designs", default="", help="only designs whose name contains this text")
    args = parser.parse_args(argv)

    peak = measure_sgemm()
    print(f"machine: {machine_description()}")
    print(peak.describe())
    print(f"x2, batch 1, float32, median of {args.repeats} after 1 warm-up")
    designs = {
        name: config
        for name, config in _with_shipped(DESIGNS, SR_CONFIGS["full"]).items()
        if args.designs in name
    }
    width = max((len(name) for name in designs), default=6)
    header = (
        f"{'design':{width}s} {'backend':>11s} {'size':>5s} {'params':>8s} {'kMAC/px':>8s} {'ms':>9s}"
        f" {'GFLOP/s':>8s} {'sgemm':>6s} {'1st call s':>10s}"
    )
    print(header + ("  time/pixels growth" if len(args.sizes) > 1 else ""))
    rows = []
    for (name, config), backend in itertools.product(designs.items(), args.backends):
        first: DesignTiming | None = None
        for size in args.sizes:
            row = time_design(
                config, size, backend=backend, repeats=args.repeats, peak_gflops=peak.gflops, name=name
            )
            rows.append(row)
            first = first or row
            rate = 2 * row.macs / row.median_ms / 1e6
            growth = (row.median_ms / first.median_ms) / (row.size / first.size) ** 2
            print(
                f"{name:{width}s} {backend:>11s} {size:5d} {row.params:8,d} {row.macs_per_pixel / 1e3:8.1f}"
                f" {row.median_ms:9.1f} {rate:8.1f} {row.sgemm_fraction:6.0%} {row.first_call_s:10.1f}"
                + (f"  {growth:.2f}x" if row is not first else ""),
                flush=True,
            )
    return rows


if __name__ == "__main__":
    main()
