"""Plots of a benchmark report (matplotlib, Agg canvas: no display needed, global pyplot state untouched).

Left: latency against input size for each segmentation model and backend measured (ours and SegFormer).
Right: Cityscapes mIoU as published against the latency measured here, at the largest resolution measured.
Weights are random in the benchmark, so accuracy cannot be measured: :data:`PAPER_MIOU` holds the published
numbers, with their sources below.

``python -m efficientvit.benchmark.plot RUN.json OUT.png`` draws them again from a saved run
(``efficientvit bench --json``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from efficientvit.atomic import atomic_write
from efficientvit.benchmark.runner import BenchReport, BenchRow

PAPER_MIOU: dict[str, float] = {
    "efficientvit-seg-b0-cityscapes": 75.7,
    "efficientvit-seg-b1-cityscapes": 80.5,
    "efficientvit-seg-b2-cityscapes": 82.1,
    "efficientvit-seg-b3-cityscapes": 83.0,
    "segformer-b1": 78.5,
    "segformer-b2": 81.0,
}
"""Cityscapes val mIoU (%), single scale, as published.

Sources:

* EfficientViT B0-B3: Cai et al., "EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense
  Prediction", ICCV 2023, Cityscapes table (1024x2048). Confirmed by the official repository's evaluation
  instructions (github.com/mit-han-lab/efficientvit, segmentation README: 75.653, 80.547, 82.073, 83.016).
* SegFormer B1 / B2: Xie et al., "SegFormer: Simple and Efficient Design for Semantic Segmentation with
  Transformers", NeurIPS 2021, as quoted in the EfficientViT paper's Cityscapes table. We could not read
  either paper's table here (no network); the numbers agree with mmsegmentation's reproduction of SegFormer
  on Cityscapes (78.56 / 81.08, 1024x1024 sliding window, configs/segformer/README.md), so they are right
  to within that reproduction's rounding, but treat the last digit as unconfirmed.
"""


def plot_report(report: BenchReport, path: str | os.PathLike[str]) -> Path:
    """Write the two plots of ``report`` side by side to the PNG ``path``; returns the path."""
    path = Path(path)
    figure = Figure(figsize=(13, 5.2), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    _latency_vs_resolution(left, report)
    _accuracy_vs_latency(right, report)
    machine = report.machine
    figure.suptitle(
        f"{machine['cpu']}, threads: {machine['torch_threads']}, batch 1, float32 (random weights)",
        fontsize=10,
    )
    with atomic_write(path) as file:
        figure.savefig(file, dpi=110, format="png")
    return path


def _segmentation_rows(report: BenchReport) -> list[BenchRow]:
    return [r for r in report.rows if r.model.startswith(("efficientvit-seg-", "segformer-"))]


def _pixels(resolution: str) -> int:
    height, width = (int(side) for side in resolution.split("x"))
    return height * width


def _latency_vs_resolution(axes: Axes, report: BenchReport) -> None:
    lines: dict[tuple[str, str], list[BenchRow]] = {}
    for row in _segmentation_rows(report):
        lines.setdefault((row.model, row.backend), []).append(row)
    for (model, backend), rows in lines.items():
        rows.sort(key=lambda r: _pixels(r.resolution))
        style = "--" if model.startswith("segformer-") else "-"
        axes.plot(
            [_pixels(r.resolution) / 1e6 for r in rows],
            [r.latency_ms for r in rows],
            style,
            marker="o",
            label=f"{model.removeprefix('efficientvit-')} ({backend})",
        )
    resolutions = sorted({r.resolution for r in _segmentation_rows(report)}, key=_pixels)
    axes.set_xticks([_pixels(r) / 1e6 for r in resolutions], resolutions)
    axes.set_yscale("log")
    axes.set_xlabel("input (H x W)")
    axes.set_ylabel("median latency (ms, log scale)")
    axes.set_title("Latency against resolution", fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    if lines:
        axes.legend(fontsize=7)
    else:
        axes.text(0.5, 0.5, "no segmentation rows measured", ha="center", transform=axes.transAxes)


def _accuracy_vs_latency(axes: Axes, report: BenchReport) -> None:
    rows = [r for r in _segmentation_rows(report) if r.model in PAPER_MIOU]
    axes.set_xlabel("median latency (ms, log scale)")
    axes.set_ylabel("mIoU (%)")
    if not rows:
        axes.set_title("Cityscapes mIoU (published) against latency measured here", fontsize=10)
        axes.text(0.5, 0.5, "no model with a published mIoU measured", ha="center", transform=axes.transAxes)
        return
    resolution = max({r.resolution for r in rows}, key=_pixels)
    axes.set_title(
        f"Cityscapes mIoU (published) against latency here at {resolution}\n"
        "filled: fastest backend, hollow: eager",
        fontsize=10,
    )
    for model in dict.fromkeys(r.model for r in rows if r.resolution == resolution):
        eager = report.find(model, "eager", resolution)
        best = report.best(model, resolution)
        ours = not model.startswith("segformer-")
        label = model.removeprefix("efficientvit-").removesuffix("-cityscapes")
        for row, filled in ((best, True), (eager, False)):
            if row is None or (not filled and best is not None and row is best):
                continue
            axes.scatter(
                row.latency_ms,
                PAPER_MIOU[model],
                marker="o" if ours else "s",
                facecolors=("tab:blue" if ours else "tab:red") if filled else "none",
                edgecolors="tab:blue" if ours else "tab:red",
                s=50,
            )
            axes.annotate(
                f"{label} ({row.backend})",
                (row.latency_ms, PAPER_MIOU[model]),
                fontsize=7,
                xytext=(4, 4) if filled else (4, -10),  # eager below: the two may be close
                textcoords="offset points",
            )
    axes.set_xscale("log")
    axes.grid(True, which="both", alpha=0.3)


def main(argv: Sequence[str] | None = None) -> Path:
    """Plot a saved run."""
    parser = argparse.ArgumentParser(description="Plot a saved `efficientvit bench --json` run.")
    parser.add_argument("report", type=Path, help="the run's JSON file")
    parser.add_argument("output", type=Path, help="the PNG to write")
    args = parser.parse_args(argv)
    try:
        saved = json.loads(args.report.read_text())
        report = BenchReport.from_dict(saved)
    except (OSError, ValueError, KeyError, TypeError) as error:
        parser.error(f"{args.report}: not a saved `efficientvit bench --json` run ({error})")
    return plot_report(report, args.output)


if __name__ == "__main__":
    print(f"wrote {main()}")
