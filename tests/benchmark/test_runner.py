"""The benchmark harness and its parts: timing, rows, MAC counting, backends, peers, the bicubic swap, plots.

No timing assertions: these check what is computed and reported, never how fast (benchmarks are not tests).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.benchmark.backends import BACKENDS, export_cache_at, graph_of, prepare_backend
from efficientvit.benchmark.latency import Latency
from efficientvit.benchmark.macs import count_macs
from efficientvit.benchmark.peers import (
    DEFAULT_ATTENTION,
    SamPromptPath,
    SoftmaxAttention,
    build_segformer,
    example_box,
)
from efficientvit.benchmark.plot import PAPER_MIOU, plot_report
from efficientvit.benchmark.runner import (
    BenchReport,
    BenchRow,
    BenchSettings,
    count_macs_meta,
    describe_machine,
    machine_info,
    make_row,
    run_benchmark,
    time_call,
)
from efficientvit.benchmark.sgemm import SgemmPeak, measure_sgemm, sgemm_fraction
from efficientvit.errors import EfficientViTError
from efficientvit.export.optimize import MatmulBicubicUpSample, bicubic_matrix, optimize_for_inference
from efficientvit.layers import ConvNormAct, UpSample
from efficientvit.runtime import cache_root
from efficientvit.zoo import create_model

SEG = "efficientvit-seg-b0-cityscapes"
PEAK = SgemmPeak(gflops=100.0, median_gflops=90.0, size=64, threads=1, repeats=1)


# --- timing and rows ---


def test_time_call_runs_warmup_then_repeats_in_inference_mode() -> None:
    calls = []

    def fn() -> None:
        calls.append(torch.is_inference_mode_enabled())

    latency = time_call(fn, warmup=2, repeats=3)
    assert calls == [True] * 5
    assert latency.repeats == 3 and 0 <= latency.min_ms <= latency.median_ms


def test_time_call_budget_cuts_repeats_and_warmup() -> None:
    calls = []

    def slow() -> None:
        calls.append(1)
        time.sleep(0.02)

    latency = time_call(slow, warmup=5, repeats=50, budget_s=0.03)
    # warm-up stops once it has taken half the budget (after one call); 0.03 s / >= 0.02 s per call -> 1 run
    assert latency.repeats == 1 and len(calls) == 2


def test_make_row_works_out_throughput_and_sgemm_fraction() -> None:
    latency = Latency(median_ms=20.0, min_ms=18.0, repeats=5)
    row = make_row("m", "eager", "64x64", latency, macs=10**9, params=7, sgemm=PEAK)
    assert row.images_per_s == pytest.approx(50.0)
    assert row.sgemm_fraction == pytest.approx(2e9 / 0.02 / 1e9 / 100.0)  # 100 GFLOP/s of 100: 1.0
    assert row.sgemm_fraction == pytest.approx(sgemm_fraction(10**9, 20.0, 100.0))
    assert (row.latency_ms, row.min_ms, row.repeats, row.params) == (20.0, 18.0, 5, 7)
    assert make_row("m", "eager", "1x1", latency, macs=None, params=None, sgemm=PEAK).sgemm_fraction is None


def test_measure_sgemm_reports_its_settings() -> None:
    peak = measure_sgemm(64, repeats=2, warmup=1)
    assert peak.size == 64 and peak.repeats == 2 and peak.threads == torch.get_num_threads()
    assert peak.gflops >= peak.median_gflops > 0
    assert "64x64x64" in peak.describe()


def test_machine_info_names_cpu_threads_and_versions() -> None:
    machine = machine_info()
    assert {"cpu", "cores", "torch_threads", "torch", "onnxruntime", "loadavg_start"} <= set(machine)
    assert machine["torch"] == torch.__version__
    text = describe_machine(machine)
    assert machine["cpu"] in text and "threads" in text and "load average" in text


def test_report_finds_rows_and_is_json() -> None:
    latency = Latency(median_ms=10.0, min_ms=9.0, repeats=1)
    slow = make_row("m", "eager", "64x64", latency, macs=1, params=1, sgemm=PEAK)
    fast = make_row("m", "fused", "64x64", Latency(5.0, 5.0, 1), macs=1, params=1, sgemm=PEAK)
    report = BenchReport(machine=machine_info(), settings=BenchSettings(), sgemm=PEAK, rows=[slow, fast])
    assert report.find("m", "eager", "64x64") is slow and report.find("m", "compile", "64x64") is None
    assert report.best("m", "64x64") is fast and report.best("m", "32x32") is None
    data = json.loads(json.dumps(report.to_dict()))
    assert [row["backend"] for row in data["rows"]] == ["eager", "fused"]
    assert data["machine"]["cpu"] and data["sgemm"]["gflops"] == 100.0
    assert BenchReport.from_dict(data) == report


def test_a_saved_run_is_plotted_again_and_a_wrong_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from efficientvit.benchmark import plot

    rows = [
        make_row(model, "eager", "64x128", Latency(ms, ms, 1), macs=1, params=1, sgemm=PEAK)
        for model, ms in (("efficientvit-seg-b1-cityscapes", 10.0), ("segformer-b1", 90.0))
    ]
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(BenchReport(machine_info(), BenchSettings(), PEAK, rows).to_dict()))
    assert plot.main([str(saved), str(tmp_path / "run.png")]).read_bytes().startswith(b"\x89PNG")
    (tmp_path / "other.json").write_text('{"rows": []}')
    with pytest.raises(SystemExit):
        plot.main([str(tmp_path / "other.json"), str(tmp_path / "x.png")])
    assert "not a saved `efficientvit bench --json` run" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


# --- MACs ---


def test_count_macs_meta_matches_count_macs() -> None:
    with torch.device("meta"):
        model = create_model(SEG)
    shape = (1, 3, 128, 256)
    assert count_macs_meta(lambda: create_model(SEG), lambda: (torch.zeros(shape),)) == count_macs(
        model, shape
    )


def test_count_macs_meta_counts_softmax_attention() -> None:
    pair = DEFAULT_ATTENTION
    shape = (1, pair.channels, 32, 32)
    tokens, width = 32 * 32, pair.channels
    softmax = count_macs_meta(pair.softmax, lambda: (torch.zeros(shape),))
    projections = tokens * width * 3 * width + tokens * width * width  # qkv and proj 1x1 convolutions
    assert softmax == projections + 2 * tokens * tokens * width  # QK^T and AV over all heads


# --- backends ---


@pytest.mark.parametrize("backend", ["eager", "fused", "onnxruntime"])
def test_backends_compute_the_eager_function(backend: str, tmp_path: Path) -> None:
    model = create_model(SEG)
    x = torch.randn(1, 3, 64, 128)
    with torch.inference_mode():
        expected = model(x)
    prepared = prepare_backend(backend, model, x, workdir=tmp_path, threads=1)
    assert prepared.name == backend and prepared.setup_s >= 0
    with torch.inference_mode():
        out = prepared.run()
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(prepared.output, expected, rtol=1e-4, atol=1e-5)
    assert not any(isinstance(m, MatmulBicubicUpSample) for m in model.modules())  # model untouched
    exported = list(tmp_path.glob("onnx/*/model.onnx"))  # the runtime's cache, pointed at the workdir
    assert len(exported) == (backend == "onnxruntime")


def test_export_cache_points_at_the_workdir_and_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EFFICIENTVIT_CACHE", str(tmp_path / "users"))
    with export_cache_at(tmp_path / "bench"):
        assert cache_root() == tmp_path / "bench"
    assert cache_root() == tmp_path / "users"
    monkeypatch.delenv("EFFICIENTVIT_CACHE")
    with pytest.raises(RuntimeError), export_cache_at(tmp_path / "bench"):
        raise RuntimeError
    assert "EFFICIENTVIT_CACHE" not in os.environ


def test_graph_of_each_task() -> None:
    with torch.device("meta"):
        models = {name: create_model(name) for name in (SEG, "efficientvit-b0", "efficientvit-sam-l0")}
    assert [graph_of(m) for m in models.values()] == ["segmenter", "classifier", "sam_image_encoder"]
    assert graph_of(nn.Conv2d(3, 3, 1)) == "classifier"  # no registry metadata: the whole module


def test_compile_backend_on_a_small_model(tmp_path: Path) -> None:
    model = nn.Sequential(ConvNormAct(3, 8, 3), ConvNormAct(8, 4, 1, act=None)).eval()
    model[0].norm.running_mean.normal_()  # a non-trivial fold
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode():
        expected = model(x)
    prepared = prepare_backend("compile", model, x, workdir=tmp_path)
    torch.testing.assert_close(prepared.output, expected, rtol=1e-4, atol=1e-5)
    with torch.inference_mode():
        torch.testing.assert_close(prepared.run(), expected, rtol=1e-4, atol=1e-5)


def test_unknown_backend_and_unexportable_model(tmp_path: Path) -> None:
    assert BACKENDS == ("eager", "fused", "compile", "onnxruntime")
    model = nn.Conv2d(3, 3, 1)
    with pytest.raises(EfficientViTError, match="unknown backend"):
        prepare_backend("tensorrt", model, torch.zeros(1, 3, 8, 8), workdir=tmp_path)
    with pytest.raises(EfficientViTError, match="cannot export"):
        prepare_backend("onnxruntime", model, torch.zeros(1, 3, 8, 8), workdir=tmp_path)


# --- peers ---


def test_softmax_attention_block_keeps_the_map_shape() -> None:
    block = SoftmaxAttention(32, head_dim=8).eval()
    x = torch.randn(2, 32, 4, 6)
    with torch.inference_mode():
        out = block(x)
    assert out.shape == x.shape
    # Tokens are independent of their order: permuting positions permutes the output the same way.
    perm = torch.randperm(24)
    flat = x.flatten(2)[..., perm].reshape_as(x)
    with torch.inference_mode():
        torch.testing.assert_close(block(flat).flatten(2), out.flatten(2)[..., perm], rtol=1e-4, atol=1e-5)


def test_segformer_b1_sizes_and_output() -> None:
    model = build_segformer("segformer-b1")
    config = model.model.config
    assert list(config.hidden_sizes) == [64, 128, 320, 512] and list(config.depths) == [2, 2, 2, 2]
    assert config.decoder_hidden_size == 256 and config.num_labels == 19
    assert 13.5e6 < sum(p.numel() for p in model.parameters()) < 14e6  # SegFormer-B1: 13.7M
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 128)).shape == (1, 19, 16, 32)
    assert list(build_segformer("segformer-b2").model.config.depths) == [3, 4, 6, 3]


def test_sam_prompt_path_gives_one_low_resolution_mask() -> None:
    path = SamPromptPath(create_model("efficientvit-sam-l0")).eval()
    with torch.inference_mode():
        masks = path(torch.randn(1, 3, 512, 512), example_box())
    assert masks.shape == (1, 1, 256, 256)


# --- the bicubic swap (export/optimize.py) ---


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_matmul_bicubic_matches_upsample(factor: int) -> None:
    x = torch.randn(2, 5, 7, 9)
    torch.testing.assert_close(MatmulBicubicUpSample(factor)(x), UpSample(factor)(x), rtol=0, atol=1e-5)
    rows = bicubic_matrix(7, factor)
    assert rows.shape == (7 * factor, 7)
    torch.testing.assert_close(rows.sum(dim=1), torch.ones(7 * factor))  # interpolation keeps constants


def test_matmul_bicubic_by_size_and_fallback() -> None:
    x = torch.randn(1, 4, 16, 16)
    for size in ((64, 64), (16, 16), (40, 24)):  # integer factors, identity, non-integer (F.interpolate)
        torch.testing.assert_close(
            MatmulBicubicUpSample(size=size)(x), UpSample(size=size)(x), rtol=0, atol=1e-5
        )
    half = x.half()
    assert MatmulBicubicUpSample(2)(half).dtype == torch.float16
    with pytest.raises(ValueError):
        MatmulBicubicUpSample()


def test_optimize_for_inference_is_exact_and_leaves_the_model() -> None:
    model = create_model(SEG)
    optimized = optimize_for_inference(model)
    assert optimized.info is model.info
    assert sum(isinstance(m, MatmulBicubicUpSample) for m in optimized.modules()) == 2
    assert not any(isinstance(m, MatmulBicubicUpSample) for m in model.modules())
    x = torch.randn(1, 3, 128, 256)
    with torch.inference_mode():
        expected = model(x)
        torch.testing.assert_close(optimized(x), expected, rtol=1e-4, atol=1e-6)
        reference = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
        torch.testing.assert_close(MatmulBicubicUpSample(4)(x), reference, rtol=0, atol=1e-5)


# --- a whole (tiny) run and its plot ---


def test_run_benchmark_rows_and_plot(tmp_path: Path) -> None:
    settings = BenchSettings(
        models=(SEG,),
        resolutions=((64, 64),),
        backends=("eager", "fused"),
        peers=("attention",),
        threads=1,
        repeats=1,
        quick=True,
    )
    lines: list[str] = []
    threads, cache = torch.get_num_threads(), os.environ.get("EFFICIENTVIT_CACHE")
    report = run_benchmark(settings, log=lines.append)
    assert torch.get_num_threads() == threads and os.environ.get("EFFICIENTVIT_CACHE") == cache  # restored
    ours = [row for row in report.rows if row.model == SEG]
    assert [row.backend for row in ours] == ["eager", "fused"]
    assert all(isinstance(row, BenchRow) and row.macs and row.params for row in ours)
    assert ours[0].rel_diff is None and ours[1].rel_diff is not None and ours[1].rel_diff < 1e-4
    attention = [row for row in report.rows if row.model.startswith(("softmax-attention-", "litemla-"))]
    assert len(attention) == 6 and all(row.macs for row in attention)
    assert len(lines) == 1 + len(report.rows) and "loadavg_end" in report.machine
    png = plot_report(report, tmp_path / "plots" / "bench.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_paper_table_holds_the_published_numbers() -> None:
    assert PAPER_MIOU["efficientvit-seg-b1-cityscapes"] == 80.5 and PAPER_MIOU["segformer-b1"] == 78.5
    assert set(PAPER_MIOU) >= {f"efficientvit-seg-b{i}-cityscapes" for i in range(4)}


def test_quick_comparison_text() -> None:
    from efficientvit.benchmark.quick import quick_comparison

    text = quick_comparison(resolution=(64, 128), backends=("eager", "fused"), repeats=1)
    lines = text.splitlines()
    assert lines[0].startswith("Segmentation at 64x128") and "sgemm peak" in lines[0]
    assert any("efficientvit-seg-b1-cityscapes (fused)" in line and "setup" in line for line in lines)
    assert any("segformer-b1 (eager)" in line for line in lines)
    assert "SegFormer-B1 takes" in lines[-1]
