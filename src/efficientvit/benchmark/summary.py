"""Speedups that pairs of rows of one run allow: pipelines (``auto`` against ``eager``) and ours against the
official code, its ONNX export and timm. Each one is computed from two rows of the same report, never from
numbers measured elsewhere; pairs whose rows were not measured are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from efficientvit.benchmark.peers import TIMM_B1_OURS
from efficientvit.benchmark.runner import (
    OFFICIAL_SAM_ENCODER_ROW,
    OFFICIAL_SAM_PREDICTOR_ROW,
    PIPELINE_ENTRIES,
    SAM_MODEL,
    SAM_PREDICTOR_ROW,
    TIMM_ROW,
    BenchReport,
    BenchRow,
    official_onnx_row,
    pipeline_backend,
)

__all__ = ["Speedup", "peer_speedups", "pipeline_speedups"]


@dataclass(frozen=True)
class Speedup:
    """``ours`` against ``baseline``: how many times faster ours is (below 1: slower)."""

    topic: str
    """What is compared, e.g. ``segment() efficientvit-seg-b1-cityscapes 1024x2048``."""
    ours: BenchRow
    baseline: BenchRow

    @property
    def ratio(self) -> float:
        """The baseline's median latency over ours."""
        return self.baseline.latency_ms / self.ours.latency_ms


def pipeline_speedups(report: BenchReport) -> list[Speedup]:
    """``segment()``, ``classify()`` and ``SamPredictor.set_image()`` with the default ``auto`` against
    ``backend="eager"``, per model and input size, in row order."""
    auto, eager = pipeline_backend("auto"), pipeline_backend("eager")
    speedups = []
    for row in report.rows:
        if row.backend != auto or not row.model.startswith(PIPELINE_ENTRIES):
            continue
        baseline = report.find(row.model, eager, row.resolution)
        if baseline is not None:
            speedups.append(Speedup(f"{row.model} {row.resolution}", row, baseline))
    return speedups


def peer_speedups(report: BenchReport) -> list[Speedup]:
    """Ours (the fastest backend, or the default predictor) against the peer rows of the same run: the
    official ONNX export of each segmentation model and size, timm's B1, the official SAM encoder and the
    official one-box predictor path. "Fastest backend" is the quickest row named by our model alone (the
    backend rows; pipeline and peer rows carry other names)."""
    speedups = []
    for row in report.rows:
        if not row.model.startswith(official_onnx_row("")):
            continue
        model = row.model.removeprefix(official_onnx_row(""))
        best = report.best(model, row.resolution)
        if best is not None:
            speedups.append(Speedup(f"{model} {row.resolution}: ours vs official ONNX export", best, row))
    pairs = (
        (TIMM_ROW, TIMM_B1_OURS, "ours vs timm"),
        (OFFICIAL_SAM_ENCODER_ROW, SAM_MODEL, "encoder, ours vs official"),
    )
    for peer_name, model, what in pairs:
        for peer in (r for r in report.rows if r.model == peer_name):
            best = report.best(model, peer.resolution)
            if best is not None:
                speedups.append(Speedup(f"{model} {peer.resolution}: {what}", best, peer))
    official = next((r for r in report.rows if r.model == OFFICIAL_SAM_PREDICTOR_ROW), None)
    ours = next((r for r in report.rows if r.model == SAM_PREDICTOR_ROW), None)
    if official is not None and ours is not None and official.resolution == ours.resolution:
        topic = f"{SAM_MODEL} {ours.resolution}: set_image + 1 box, ours (auto) vs official predictor"
        speedups.append(Speedup(topic, ours, official))
    return speedups
