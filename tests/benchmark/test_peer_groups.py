"""The optional peer groups (timm, official-sam, official-onnx, pipelines), the speedups the summary draws
from their rows, and the one-line error for a missing peer package. Tiny quick runs; no timing assertions.

``auto`` is pinned to ``fused`` here (``$EFFICIENTVIT_BACKEND``): an ONNX export per test would take most
of a minute, and ``fused`` still differs from ``eager``, so the rows show that ``auto`` went its own way.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from efficientvit.benchmark.latency import Latency
from efficientvit.benchmark.peers import (
    TIMM_B1,
    build_official_sam,
    build_segformer,
    build_timm_b1,
    require_peer_packages,
)
from efficientvit.benchmark.runner import (
    OFFICIAL_SAM_ENCODER_ROW,
    OFFICIAL_SAM_PREDICTOR_ROW,
    PEER_GROUPS,
    SAM_MODEL,
    SAM_PREDICTOR_ROW,
    TIMM_ROW,
    BenchReport,
    BenchRow,
    BenchSettings,
    count_macs_meta,
    make_row,
    official_onnx_row,
    pipeline_row,
    run_benchmark,
)
from efficientvit.benchmark.sgemm import SgemmPeak
from efficientvit.benchmark.summary import peer_speedups, pipeline_speedups
from efficientvit.cli import main
from efficientvit.cli.bench import summary_lines
from efficientvit.errors import EfficientViTError
from efficientvit.zoo import create_model

SEG = "efficientvit-seg-b0-cityscapes"
CLS = "efficientvit-b0"
B1 = "efficientvit-b1-r224"
PEAK = SgemmPeak(gflops=100.0, median_gflops=90.0, size=64, threads=1, repeats=1)


@pytest.fixture
def auto_is_fused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFFICIENTVIT_BACKEND", "fused")


def quick(**fields: object) -> BenchSettings:
    """Settings of a tiny smoke run: one thread, one timed run, quick sgemm."""
    return BenchSettings(**{"threads": 1, "repeats": 1, "quick": True, "backends": ("eager",), **fields})


def rows_of(report: BenchReport, model: str) -> list[BenchRow]:
    return [row for row in report.rows if row.model == model]


def assert_sane(row: BenchRow) -> None:
    assert row.latency_ms > 0 and 0 < row.min_ms <= row.latency_ms and row.repeats >= 1
    assert row.images_per_s == pytest.approx(1e3 / row.latency_ms)
    assert row.params is None or row.params > 0


# --- the groups' rows ---


def test_timm_group_times_timm_b1_next_to_ours() -> None:
    report = run_benchmark(quick(models=(), peers=("timm",), backends=("eager", "fused")))
    ours = rows_of(report, B1)  # added to the run's models by the group
    (timm,) = rows_of(report, TIMM_ROW)
    assert [row.backend for row in ours] == ["eager", "fused"] and all(
        r.resolution == "224x224" for r in ours
    )
    assert (timm.backend, timm.resolution, timm.note) == ("eager", "224x224", "timm, eager")
    for row in (*ours, timm):
        assert_sane(row)
    assert timm.macs == ours[0].macs and timm.params == ours[0].params  # the same network
    (speedup,) = peer_speedups(report)
    assert speedup.baseline is timm and speedup.ours is report.best(B1, "224x224")
    assert speedup.ratio == pytest.approx(timm.latency_ms / speedup.ours.latency_ms)
    assert pipeline_speedups(report) == []


def test_official_sam_group_runs_the_official_code_with_our_weights(auto_is_fused: None) -> None:
    # No backend rows of ours (each SAM-L0 call takes seconds here): the encoder speedup then has no pair.
    report = run_benchmark(quick(models=(), backends=(), peers=("official-sam",), peer_budget_s=1.0))
    assert rows_of(report, SAM_MODEL) == []
    (encoder,) = rows_of(report, OFFICIAL_SAM_ENCODER_ROW)
    (official,) = rows_of(report, OFFICIAL_SAM_PREDICTOR_ROW)
    (predictor,) = rows_of(report, SAM_PREDICTOR_ROW)
    assert (encoder.backend, encoder.resolution) == ("eager", "512x512")
    ours_macs = count_macs_meta(lambda: create_model(SAM_MODEL), lambda: (torch.zeros(1, 3, 512, 512),))
    assert encoder.macs == ours_macs and encoder.params is not None
    assert encoder.rel_diff is not None and encoder.rel_diff < 1e-5  # the same weights, the same function
    assert (official.backend, official.resolution) == ("eager", "480x640")
    assert (predictor.backend, predictor.resolution) == ("pipeline auto", "480x640")
    assert predictor.setup_s is not None and predictor.setup_s > 0  # our first call
    assert predictor.note.endswith("auto -> fused/fused")  # image encoder / prompt decoder
    for row in (encoder, official, predictor):
        assert_sane(row)
    (box,) = peer_speedups(report)
    assert "1 box" in box.topic and box.ours is predictor and box.baseline is official
    assert box.ratio == pytest.approx(official.latency_ms / predictor.latency_ms)


def test_official_onnx_group_exports_our_unfused_model_plainly() -> None:
    report = run_benchmark(quick(models=(SEG,), resolutions=((64, 128),), peers=("official-onnx",)))
    (ours,) = rows_of(report, SEG)
    (official,) = rows_of(report, official_onnx_row(SEG))
    assert (official.backend, official.resolution) == ("onnxruntime", "64x128")
    assert "onnx_export.py" in official.note and "opset 17 asked" in official.note
    assert re.search(r"LiteMLA eps (kept|dropped)\)", official.note)  # what the exporter's optimiser did
    assert official.setup_s is not None and official.setup_s > 0  # export + session
    assert official.rel_diff is not None
    if math.isnan(official.rel_diff):  # possible only without the epsilon (0/0), and then said in the note
        assert "eps dropped" in official.note and official.note.endswith("; NaN in its output")
    else:
        assert official.rel_diff < 1e-3
    assert official.macs == ours.macs and official.params == ours.params
    assert_sane(official)
    (speedup,) = peer_speedups(report)
    assert speedup.ours is ours and speedup.baseline is official


def test_pipelines_group_through_the_cli_with_json(
    auto_is_fused: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bench.json"
    args = ["bench", "--models", f"{SEG},{CLS}", "--resolutions", "64x96", "--backends", "eager"]
    code = main(
        [*args, "--peers", "pipelines", "--threads", "1", "--repeats", "1", "--quick", "--json", str(path)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(path.read_text())["rows"]
    pipeline = {(r["model"], r["backend"]): r for r in rows if r["backend"].startswith("pipeline ")}
    expected = [
        (pipeline_row(entry, model), f"pipeline {backend}")
        for entry, model in (("segment()", SEG), ("classify()", CLS))
        for backend in ("auto", "eager")
    ]
    assert sorted(pipeline) == sorted(expected)
    for (_, backend), row in pipeline.items():
        assert row["setup_s"] is not None and row["setup_s"] > 0 and row["latency_ms"] > 0
        assert ("auto -> fused" in row["note"]) == (backend == "pipeline auto")
    assert pipeline[(pipeline_row("segment()", SEG), "pipeline auto")]["resolution"] == "64x96"
    assert pipeline[(pipeline_row("classify()", CLS), "pipeline auto")]["resolution"] == "224x224"
    assert "Pipelines end to end" in out
    for entry, model, size in (("segment()", SEG, "64x96"), ("classify()", CLS, "224x224")):
        auto = pipeline[(pipeline_row(entry, model), "pipeline auto")]
        eager = pipeline[(pipeline_row(entry, model), "pipeline eager")]
        ratio = eager["latency_ms"] / auto["latency_ms"]
        word = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
        assert f"{pipeline_row(entry, model)} {size}: auto (fused)" in out and word in out


# --- the summary's speedups come from the rows ---


def row(model: str, backend: str, resolution: str, ms: float, note: str = "") -> BenchRow:
    return make_row(
        model, backend, resolution, Latency(ms, ms, 1), macs=None, params=None, sgemm=PEAK, note=note
    )


def test_summary_speedups_are_ratios_of_rows_of_the_run() -> None:
    rows = [
        row(SEG, "eager", "64x64", 40.0),
        row(SEG, "onnxruntime", "64x64", 10.0),
        row(official_onnx_row(SEG), "onnxruntime", "64x64", 25.0),
        row(B1, "fused", "224x224", 8.0),
        row(TIMM_ROW, "eager", "224x224", 6.0),
        row(SAM_MODEL, "onnxruntime", "512x512", 50.0),
        row(OFFICIAL_SAM_ENCODER_ROW, "eager", "512x512", 150.0),
        row(OFFICIAL_SAM_PREDICTOR_ROW, "eager", "480x640", 300.0),
        row(SAM_PREDICTOR_ROW, "pipeline auto", "480x640", 100.0, "x; auto -> onnxruntime/onnxruntime"),
        row(pipeline_row("segment()", SEG), "pipeline auto", "64x64", 12.0, "x; auto -> onnxruntime"),
        row(pipeline_row("segment()", SEG), "pipeline eager", "64x64", 48.0),
        row(pipeline_row("classify()", CLS), "pipeline auto", "224x224", 5.0, "x; auto -> onnxruntime"),
        row(pipeline_row("classify()", CLS), "pipeline eager", "224x224", 15.0),
        row(
            pipeline_row("SamPredictor.set_image()", SAM_MODEL),
            "pipeline auto",
            "480x640",
            60.0,
            "auto -> fused",
        ),
        row(pipeline_row("SamPredictor.set_image()", SAM_MODEL), "pipeline eager", "480x640", 90.0),
    ]
    report = BenchReport(machine={}, settings=BenchSettings(), sgemm=PEAK, rows=rows)
    assert [round(s.ratio, 6) for s in pipeline_speedups(report)] == [4.0, 3.0, 1.5]
    peers = peer_speedups(report)
    assert [round(s.ratio, 6) for s in peers] == [2.5, 0.75, 3.0, 3.0]
    assert peers[0].ours is rows[1] and peers[0].baseline is rows[2]  # ours fastest, not eager
    text = "\n".join(summary_lines(report))
    for needle in (
        f"segment() {SEG} 64x64: auto (onnxruntime) 12.0 ms vs eager 48.0 ms: ours 4.00x faster",
        f"classify() {CLS} 224x224: auto (onnxruntime) 5.0 ms vs eager 15.0 ms: ours 3.00x faster",
        f"set_image() {SAM_MODEL} 480x640: auto (fused) 60.0 ms vs eager 90.0 ms: ours 1.50x faster",
        f"{SEG} 64x64: ours vs official ONNX export: onnxruntime 10.0 ms vs onnxruntime 25.0 ms: ours 2.50x",
        f"{B1} 224x224: ours vs timm: fused 8.0 ms vs eager 6.0 ms: ours 1.33x slower",
        f"{SAM_MODEL} 512x512: encoder, ours vs official: onnxruntime 50.0 ms vs eager 150.0 ms: ours 3.00x",
        "vs official predictor: auto (onnxruntime/onnxruntime) 100.0 ms vs eager 300.0 ms: ours 3.00x faster",
    ):
        assert needle in text, needle
    # A pair with a missing row gives no ratio, and the pipeline rows never count as "ours fastest".
    partial = BenchReport(machine={}, settings=BenchSettings(), sgemm=PEAK, rows=rows[2:5] + rows[9:10])
    assert pipeline_speedups(partial) == []
    assert [s.baseline.model for s in peer_speedups(partial)] == [TIMM_ROW]


# --- a missing peer package ---


@pytest.mark.parametrize(
    ("group", "module", "build"),
    [
        ("timm", "timm", build_timm_b1),
        ("official-sam", "efficientsam", build_official_sam),
        ("segformer", "transformers", lambda: build_segformer("segformer-b1")),
    ],
)
def test_a_missing_peer_package_is_a_one_line_error(
    group: str,
    module: str,
    build: Callable[[], object],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in [name for name in sys.modules if name == module or name.startswith(f"{module}.")]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it (or a submodule) raises ImportError
    monkeypatch.setitem(sys.modules, module, None)
    assert main(["bench", "--models", SEG, "--peers", group, "--backends", "eager", "--quick"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("efficientvit: error: ") and err.count("\n") == 1
    assert f"--peers {group} needs" in err and "pip install 'efficientvit[bench]'" in err
    assert "[bench]" not in err.replace("efficientvit[bench]", "")  # failed before anything was timed
    with pytest.raises(EfficientViTError, match=r"pip install 'efficientvit\[bench\]'"):
        build()
    require_peer_packages(["attention", "pipelines", "official-onnx"])  # need nothing optional


def test_peer_groups_and_their_names() -> None:
    assert PEER_GROUPS[:3] == ("segformer", "sam", "attention")  # the default, unchanged
    assert set(PEER_GROUPS[3:]) == {"timm", "official-sam", "official-onnx", "pipelines"}
    assert BenchSettings().peers == ("segformer", "sam", "attention")
    assert f"timm {TIMM_B1}" == TIMM_ROW and TIMM_B1 == "efficientvit_b1.r224_in1k"
