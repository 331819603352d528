"""A short comparison for the demo: EfficientViT-B1 segmentation, eager and fastest backend, against
SegFormer-B1 (``efficientvit bench`` is the full benchmark)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from efficientvit.benchmark.backends import prepare_backend
from efficientvit.benchmark.macs import count_params
from efficientvit.benchmark.peers import build_segformer
from efficientvit.benchmark.runner import BenchRow, count_macs_meta, make_row, time_call
from efficientvit.benchmark.sgemm import measure_sgemm
from efficientvit.extras import available, missing_extra
from efficientvit.runtime.rules import onnxruntime_available
from efficientvit.zoo import create_model

MODEL = "efficientvit-seg-b1-cityscapes"
PEER = "segformer-b1"


def quick_comparison(
    *,
    resolution: tuple[int, int] = (512, 1024),
    backends: tuple[str, ...] | None = None,
    repeats: int = 3,
    peer: bool | None = None,
) -> str:
    """Time efficientvit-seg-b1-cityscapes with each of ``backends`` and SegFormer-B1 (eager) at
    ``resolution`` (random weights, batch 1, float32, torch's current thread count) and return a few lines
    of text: latency, fraction of the sgemm peak, speedups.

    ``backends`` defaults to eager and onnxruntime, or eager and fused without the ``[onnx]`` extra;
    ``peer`` (time SegFormer-B1) defaults to whether transformers is installed, else a line names the extra.

    Takes ~15 s on a quiet 2-core machine at 512x1024: SegFormer's four runs (~5 s) and the ONNX export of
    the ``onnxruntime`` backend (~5 s; printed as setup, not counted in its latency) dominate. Pass
    ``backends=("eager", "fused")`` to skip the export, or a smaller ``resolution``.
    """
    if backends is None:
        backends = ("eager", "onnxruntime" if onnxruntime_available() else "fused")
    if peer is None:
        peer = available("transformers")
    shape = (1, 3, *resolution)
    sgemm = measure_sgemm(1024, repeats=3)
    model = create_model(MODEL)
    macs = count_macs_meta(lambda: create_model(MODEL), lambda: (torch.zeros(shape),))
    x = torch.randn(shape)
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="efficientvit-quick-") as workdir:
        for backend in backends:
            prepared = prepare_backend(backend, model, x, workdir=Path(workdir))
            latency = time_call(prepared.run, warmup=1, repeats=repeats)
            setup = None if backend == "eager" else prepared.setup_s
            rows.append(
                make_row(MODEL, backend, "", latency, macs=macs, params=None, sgemm=sgemm, setup_s=setup)
            )
    segformer = None
    if peer:
        segformer_model = build_segformer(PEER)
        peer_macs = count_macs_meta(lambda: build_segformer(PEER), lambda: (torch.zeros(shape),))
        latency = time_call(lambda: segformer_model(x), warmup=1, repeats=repeats)
        params = count_params(segformer_model)
        segformer = make_row(PEER, "eager", "", latency, macs=peer_macs, params=params, sgemm=sgemm)

    eager = next((row for row in rows if row.backend == "eager"), None)
    best = min(rows, key=lambda row: row.latency_ms)
    height, width = resolution
    lines = [
        f"Segmentation at {height}x{width}, batch 1, float32, {torch.get_num_threads()} threads, median of "
        f"{repeats} runs (random weights); sgemm peak {sgemm.gflops:.0f} GFLOP/s:"
    ]
    for row in [*rows, *([segformer] if segformer is not None else [])]:
        name = f"{row.model} ({row.backend})"
        fraction = f"{100 * row.sgemm_fraction:4.1f} % of sgemm" if row.sgemm_fraction is not None else ""
        setup = f", setup {row.setup_s:.1f} s not counted" if row.setup_s is not None else ""
        lines.append(f"  {name:<46} {row.latency_ms:8.1f} ms  {row.macs / 1e9:6.1f} GMACs  {fraction}{setup}")
    if eager is not None and best is not eager:
        lines.append(f"  {best.backend} is {eager.latency_ms / best.latency_ms:.1f}x faster than eager")
    if segformer is None:
        lines.append(f"  SegFormer-B1 not timed: {missing_extra('the comparison', 'transformers', 'bench')}")
        return "\n".join(lines)
    lines.append(
        f"  SegFormer-B1 takes {segformer.latency_ms / best.latency_ms:.1f}x as long as EfficientViT-B1 "
        f"({best.backend})"
        + (f", {segformer.latency_ms / eager.latency_ms:.1f}x as long as its eager run" if eager else "")
    )
    return "\n".join(lines)
