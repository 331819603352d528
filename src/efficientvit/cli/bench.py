"""`efficientvit bench`: latency, throughput, MACs and sgemm fraction of our models and their peers here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from efficientvit import json_output
from efficientvit.atomic import atomic_write_text
from efficientvit.benchmark.backends import BACKENDS
from efficientvit.benchmark.peers import TIMM_B1_OURS, require_peer_packages
from efficientvit.benchmark.runner import (
    DEFAULT_PEERS,
    PEER_GROUPS,
    SAM_MODEL,
    BenchReport,
    BenchRow,
    BenchSettings,
    describe_machine,
    run_benchmark,
)
from efficientvit.benchmark.summary import Speedup, peer_speedups, pipeline_speedups
from efficientvit.cli.common import positive_int
from efficientvit.errors import EfficientViTError
from efficientvit.extras import install_command, require, require_extra
from efficientvit.runtime.rules import onnxruntime_available
from efficientvit.sizes import parse_pair
from efficientvit.tasks.registry import get_task
from efficientvit.zoo import get_model_info

SPEEDUP_TARGET = 2.0
"""Fastest backend against eager, for our segmentation models."""
SEGFORMER_TARGET = 10.0
"""SegFormer-B1 against our fastest backend."""
SGEMM_GOAL = 0.55
"""The fraction of the sgemm peak our segmenter's best CPU backend is to reach ("fast by default")."""
COLUMNS = (
    "model",
    "backend",
    "input",
    "median ms",
    "min ms",
    "img/s",
    "GMACs",
    "params M",
    "% sgemm",
    "runs",
    "setup s",
    "rel diff",
    "note",
)
LEFT_ALIGNED = {"model", "backend", "input", "note"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` command."""
    parser = subparsers.add_parser(
        "bench",
        help="time our models (eager, fused, compiled, ONNX Runtime) against SegFormer, SAM and softmax "
        "attention on this machine",
        description="Benchmark on the CPU, batch 1, float32, random weights (speed does not depend on them). "
        "Prints the machine, a table (median and min latency, images/s, MACs, params, fraction of the "
        "machine's sgemm peak, setup time, difference from eager), then the sgemm fractions and speedups. "
        "Timings on a loaded machine are noise: run it on a quiet one.",
    )
    parser.add_argument(
        "--models",
        default="efficientvit-seg-b1-cityscapes",
        help="comma-separated registered models (default efficientvit-seg-b1-cityscapes); segmentation "
        f"models run at every --resolutions, others at their own resolution; --peers sam or official-sam "
        f"adds {SAM_MODEL}, --peers timm adds {TIMM_B1_OURS}",
    )
    parser.add_argument(
        "--resolutions",
        default="512x1024,1024x2048",
        help="comma-separated HxW inputs of the segmentation models and SegFormer, multiples of 32 "
        "(default 512x1024,1024x2048)",
    )
    parser.add_argument(
        "--backends",
        help=f"comma-separated backends for our models, from {', '.join(BACKENDS)} (default all; without "
        f"the [onnx] extra all but onnxruntime)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(DEFAULT_PEERS),
        help=f"comma-separated peer groups from {', '.join(PEER_GROUPS)}; 'all' = all of them plus SAM ViT-H "
        f"(slow: minutes); 'none'. Default {','.join(DEFAULT_PEERS)}; optional: timm (timm's EfficientViT-B1 "
        f"vs our {TIMM_B1_OURS}), official-sam (the official EfficientViT-SAM code, efficientsam, with our "
        "weights: encoder and set_image + one box vs our SamPredictor), official-onnx (the official "
        "onnx_export.py's plain torch.onnx.export of our unfused model, in ONNX Runtime), pipelines "
        "(segment / classify / SamPredictor.set_image end to end on uint8 images, default auto vs eager). "
        "timm and official-sam need: pip install 'efficientvit[bench]'",
    )
    parser.add_argument(
        "--threads", type=positive_int, default=2, help="torch / ONNX Runtime threads (default 2)"
    )
    parser.add_argument("--repeats", type=positive_int, default=10, help="timed runs per row (default 10)")
    parser.add_argument(
        "--warmup", type=positive_int, default=2, help="untimed runs per row first (default 2)"
    )
    parser.add_argument(
        "--peer-budget",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="time the runs of one peer row take at most, about (slow peers get fewer runs, at least one; "
        "default 60)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON to FILE")
    parser.add_argument("--plot", type=Path, metavar="FILE", help="also plot the report to the PNG FILE")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: small sgemm, short attention sweep, one warm-up, 5 s per peer row",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print (and save) its report."""
    settings = settings_from_args(args)
    report = run_benchmark(settings, log=lambda line: print(f"[bench] {line}", file=sys.stderr, flush=True))
    print(format_report(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json_output.dumps(report.to_dict(), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if args.plot is not None:
        from efficientvit.benchmark.plot import plot_report

        print(f"wrote {plot_report(report, args.plot)}")
    return 0


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """Checked settings; bad names and sizes raise ``EfficientViTError``."""
    models = _split(args.models)
    infos = [get_model_info(name) for name in models]  # unknown names raise, with suggestions
    resolutions = tuple(_parse_resolution(text) for text in _split(args.resolutions))
    if any(get_task(info.task).dense for info in infos) or "segformer" in args.peers:
        for height, width in resolutions:
            if height % 32 or width % 32:
                raise EfficientViTError(f"--resolutions {height}x{width}: sides must be multiples of 32")
    if args.plot is not None:
        require("matplotlib", "efficientvit bench --plot")
    peers = _split(args.peers)
    sam_vit_h = "all" in peers
    if sam_vit_h:
        peers = list(PEER_GROUPS)
    elif peers == ["none"]:
        peers = []
    unknown = [p for p in peers if p not in PEER_GROUPS]
    if unknown:
        raise EfficientViTError(
            f"unknown peer group(s) {unknown}; choose from {', '.join(PEER_GROUPS)}, all, none"
        )
    if args.peer_budget <= 0:
        raise EfficientViTError("--peer-budget must be positive")
    if "official-onnx" in peers:
        require_extra("onnx", "--peers official-onnx")
    require_peer_packages(peers)  # missing packages are an error before the note below
    if args.backends is None:
        backends = tuple(b for b in BACKENDS if b != "onnxruntime" or onnxruntime_available())
        if len(backends) < len(BACKENDS):
            print(f"[bench] onnxruntime skipped: it needs {install_command('onnx')}", file=sys.stderr)
    else:
        backends = tuple(_split(args.backends))
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise EfficientViTError(f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}")
    if "onnxruntime" in backends:
        require_extra("onnx", "--backends onnxruntime")
    return BenchSettings(
        models=tuple(models),
        resolutions=resolutions,
        backends=backends,
        peers=tuple(peers),
        sam_vit_h=sam_vit_h,
        threads=args.threads,
        warmup=args.warmup,
        repeats=args.repeats,
        peer_budget_s=args.peer_budget,
        quick=args.quick,
    )


def format_report(report: BenchReport) -> str:
    """Machine, settings, the table, then the sgemm fractions and speedups."""
    settings = report.settings
    warmup = 1 if settings.quick else settings.warmup
    header = [
        "EfficientViT benchmark: CPU, batch 1, float32, random weights",
        describe_machine(report.machine),
        f"timing: {warmup} warm-up run(s), then the median (and min) of up to {settings.repeats} runs per "
        f"row; peers eager, at most ~{settings.peer_budget_s:g} s of runs per row; backends: "
        f"{', '.join(settings.backends)}",
    ]
    return "\n".join([*header, "", format_table(report.rows), "", *summary_lines(report)])


def format_table(rows: Sequence[BenchRow]) -> str:
    """The rows as an aligned text table."""
    cells = [COLUMNS]
    for row in rows:
        cells.append(
            (
                row.model,
                row.backend,
                row.resolution,
                f"{row.latency_ms:.1f}",
                f"{row.min_ms:.1f}",
                f"{row.images_per_s:.2f}",
                "-" if row.macs is None else f"{row.macs / 1e9:.2f}",
                "-" if row.params is None else f"{row.params / 1e6:.2f}",
                "-" if row.sgemm_fraction is None else f"{100 * row.sgemm_fraction:.1f}",
                str(row.repeats),
                "-" if row.setup_s is None else f"{row.setup_s:.1f}",
                "-" if row.rel_diff is None else f"{row.rel_diff:.1e}",
                row.note,
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for line in cells:
        parts = [
            text.ljust(width) if name in LEFT_ALIGNED else text.rjust(width)
            for name, text, width in zip(COLUMNS, line, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def summary_lines(report: BenchReport) -> list[str]:
    """The sgemm fractions and speedups, with the targets they are held to."""
    lines = [report.sgemm.describe()]
    ours = _ours(report)
    if ours:
        lines.append(
            f"Fraction of the sgemm peak reached (2 x MACs / median latency; goal {SGEMM_GOAL:.0%}):"
        )
        for model, resolution in ours:
            eager = report.find(model, "eager", resolution)
            best = report.best(model, resolution)
            parts = [f"{row.backend} {_percent(row)}" for row in (eager, best) if row is not None]
            if eager is best:
                parts = parts[:1]
            lines.append(f"  {model} {resolution}: " + ", ".join(parts))
        speedups = []
        for model, resolution in ours:
            eager = report.find(model, "eager", resolution)
            best = report.best(model, resolution)
            if eager is None or best is None or best is eager:
                continue
            ratio = eager.latency_ms / best.latency_ms
            verdict = f" ({_verdict(ratio, SPEEDUP_TARGET)})" if model.startswith("efficientvit-seg-") else ""
            speedups.append(
                f"  {model} {resolution}: {best.backend} {best.latency_ms:.1f} ms is {ratio:.2f}x faster "
                f"than eager {eager.latency_ms:.1f} ms{verdict}"
            )
        if speedups:
            lines.append(
                "Speedups (median latency of eager / fastest backend; target for segmentation >= "
                f"{SPEEDUP_TARGET:g}x):"
            )
            lines += speedups
    lines += _segformer_lines(report, ours)
    lines += _sam_lines(report)
    lines += _attention_lines(report)
    lines += _speedup_lines(
        "Pipelines end to end, the default backend (auto) against backend='eager' (steady state; the first "
        "call is the setup):",
        pipeline_speedups(report),
    )
    lines += _speedup_lines(
        "Ours (fastest backend; the predictor with auto) against the official code, its ONNX export and "
        "timm:",
        peer_speedups(report),
    )
    lines += _warnings(report)
    return lines


def _warnings(report: BenchReport) -> list[str]:
    """Signs that the machine was busy: then the timings (and the sgemm peak) are not to be trusted."""
    lines = []
    machine = report.machine
    cores = machine.get("cores") or 1
    # The start value only: by the end, the benchmark's own threads are in the load average.
    start = (machine.get("loadavg_start") or [0.0])[0]
    if start >= 0.5 * cores:
        lines.append(
            f"warning: 1-minute load average {start:.2f} on {cores} cores before the run: other work may "
            "compete for the CPU and make the timings unreliable (PyTorch's threads suffer most)"
        )
    over = [row for row in report.rows if row.sgemm_fraction is not None and row.sgemm_fraction > 1]
    if over:
        lines.append(
            f"note: {len(over)} row(s) exceed the measured sgemm throughput: torch's large matmul is not "
            "this machine's ceiling (ONNX Runtime's and inductor's kernels can beat it), or it was measured "
            "while the machine was busy"
        )
    return lines


def _ours(report: BenchReport) -> list[tuple[str, str]]:
    """(model, resolution) of our models' rows, in order."""
    pairs = []
    for row in report.rows:
        if row.model.startswith("efficientvit-") and not row.model.endswith("prompt path"):
            pairs.append((row.model, row.resolution))
    return list(dict.fromkeys(pairs))


def _segformer_lines(report: BenchReport, ours: list[tuple[str, str]]) -> list[str]:
    lines = []
    for peer in (r for r in report.rows if r.model.startswith("segformer-")):
        for model, resolution in ours:
            if resolution != peer.resolution or not model.startswith("efficientvit-seg-"):
                continue
            best = report.best(model, resolution)
            eager = report.find(model, "eager", resolution)
            assert best is not None
            ratio = peer.latency_ms / best.latency_ms
            line = f"  {peer.model} / {model} at {resolution}: {ratio:.1f}x against {best.backend}"
            if eager is not None and eager is not best:
                line += f", {peer.latency_ms / eager.latency_ms:.1f}x eager against eager"
            if peer.model == "segformer-b1":
                line += f" ({_verdict(ratio, SEGFORMER_TARGET)})"
            lines.append(line)
    if lines:
        lines.insert(0, f"SegFormer (eager) against ours (SegFormer-B1 target >= {SEGFORMER_TARGET:g}x):")
    return lines


def _sam_lines(report: BenchReport) -> list[str]:
    lines = []
    ours_encoder = [r for r in report.rows if r.model == SAM_MODEL]
    ours_prompt = next((r for r in report.rows if r.model == f"{SAM_MODEL} prompt path"), None)
    for peer in (r for r in report.rows if r.model.startswith("sam-vit-")):
        if peer.model.endswith(" encoder") and ours_encoder:
            best = min(ours_encoder, key=lambda r: r.latency_ms)
            eager = next((r for r in ours_encoder if r.backend == "eager"), None)
            line = (
                f"  {peer.model} {peer.resolution} / {SAM_MODEL} encoder {best.resolution}: "
                f"{peer.latency_ms / best.latency_ms:.1f}x against {best.backend}"
            )
            if eager is not None and eager is not best:
                line += f", {peer.latency_ms / eager.latency_ms:.1f}x eager against eager"
            lines.append(line)
        elif peer.model.endswith(" prompt path") and ours_prompt is not None:
            lines.append(
                f"  {peer.model} {peer.resolution} / {ours_prompt.model} {ours_prompt.resolution}: "
                f"{peer.latency_ms / ours_prompt.latency_ms:.1f}x (both eager, one box)"
            )
    if lines:
        lines.insert(0, "SAM (segment-anything, eager) against EfficientViT-SAM:")
    return lines


def _attention_lines(report: BenchReport) -> list[str]:
    softmax = {r.resolution: r for r in report.rows if r.model.startswith("softmax-attention-")}
    linear = {r.resolution: r for r in report.rows if r.model.startswith("litemla-")}
    common = [res for res in softmax if res in linear]
    if not common:
        return []
    lines = [
        f"Softmax attention against LiteMLA ({next(iter(softmax.values())).model} vs litemla, same dims):"
    ]
    wins_from = None
    for resolution in common:
        a, b = softmax[resolution], linear[resolution]
        ratio = a.latency_ms / b.latency_ms
        wins_from = (wins_from or resolution) if ratio > 1 else None
        lines.append(
            f"  {a.note:>12}: softmax {a.latency_ms:.2f} ms, LiteMLA {b.latency_ms:.2f} ms, "
            f"LiteMLA {ratio:.2f}x faster"
        )
    if wins_from is not None:
        lines.append(f"  LiteMLA is faster from {softmax[wins_from].note} ({wins_from}) on")
    else:
        lines.append("  LiteMLA is not faster at the largest map measured")
    return lines


def _speedup_lines(title: str, speedups: Sequence[Speedup]) -> list[str]:
    """``title`` and a line per speedup (nothing if there is none)."""
    if not speedups:
        return []
    lines = [title]
    for speedup in speedups:
        ours, baseline = speedup.ours, speedup.baseline
        faster = f"{speedup.ratio:.2f}x faster" if speedup.ratio >= 1 else f"{1 / speedup.ratio:.2f}x slower"
        lines.append(
            f"  {speedup.topic}: {_label(ours)} {ours.latency_ms:.1f} ms vs {_label(baseline)} "
            f"{baseline.latency_ms:.1f} ms: ours {faster}"
        )
    return lines


def _label(row: BenchRow) -> str:
    """The backend of a row, with what ``auto`` ran where the note says (``auto (onnxruntime)``)."""
    backend = row.backend.removeprefix("pipeline ")
    if "auto -> " in row.note:
        backend += f" ({row.note.split('auto -> ', 1)[1]})"
    return backend


def _percent(row: BenchRow | None) -> str:
    return "-" if row is None or row.sgemm_fraction is None else f"{100 * row.sgemm_fraction:.1f} %"


def _verdict(ratio: float, target: float) -> str:
    return f"target {target:g}x: {'met' if ratio >= target else 'NOT met'}"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_resolution(text: str) -> tuple[int, int]:
    try:
        return parse_pair(text, square=False)
    except ValueError:
        raise EfficientViTError(
            f"--resolutions: {text!r} is not HxW with sides >= 1 (e.g. 1024x2048)"
        ) from None
