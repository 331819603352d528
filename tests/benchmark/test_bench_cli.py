"""`efficientvit bench`: a tiny quick run prints the machine, the table and the summary, and writes JSON and
a PNG; bad arguments are one-line user errors. No timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from efficientvit.benchmark.runner import BenchSettings
from efficientvit.cli import build_parser, main
from efficientvit.cli.bench import COLUMNS, settings_from_args

SEG = "efficientvit-seg-b0-cityscapes"
ROW_KEYS = {
    "model",
    "backend",
    "resolution",
    "latency_ms",
    "min_ms",
    "images_per_s",
    "macs",
    "params",
    "sgemm_fraction",
    "repeats",
}


def test_quick_run_prints_table_and_writes_json_and_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_path, png_path = tmp_path / "out" / "bench.json", tmp_path / "out" / "bench.png"
    code = main(
        [
            "bench",
            "--models",
            SEG,
            "--resolutions",
            "64x128",
            "--backends",
            "eager,fused,onnxruntime",
            "--peers",
            "segformer,attention",
            "--threads",
            "1",
            "--repeats",
            "1",
            "--quick",
            "--json",
            str(json_path),
            "--plot",
            str(png_path),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("EfficientViT benchmark") and "machine: " in out and "load average" in out
    assert " ".join(COLUMNS[:3]).replace(" ", "") in out.replace(" ", "")  # the table header
    for needle in ("sgemm 1024x1024x1024", "Fraction of the sgemm peak", "Speedups", "segformer-b1 / " + SEG):
        assert needle in out
    assert "LiteMLA" in out and "[bench]" in err  # attention summary; progress on stderr

    report = json.loads(json_path.read_text())
    assert {"cpu", "cores", "torch_threads", "torch", "onnxruntime"} <= set(report["machine"])
    assert report["machine"]["torch_threads"] == 1
    rows = report["rows"]
    assert all(set(row) >= ROW_KEYS for row in rows)
    ours = [(row["backend"], row["resolution"]) for row in rows if row["model"] == SEG]
    assert ours == [("eager", "64x128"), ("fused", "64x128"), ("onnxruntime", "64x128")]
    assert {row["model"] for row in rows} >= {"segformer-b1", "segformer-b2"}
    assert all(isinstance(row["macs"], int) and row["macs"] > 0 for row in rows)
    assert png_path.read_bytes().startswith(b"\x89PNG")


def test_peer_groups_default_all_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    def settings(*args: str) -> BenchSettings:
        return settings_from_args(build_parser().parse_args(["bench", "--models", SEG, *args]))

    every = ("segformer", "sam", "attention", "timm", "official-sam", "official-onnx", "pipelines")
    assert settings().peers == every[:3] and not settings().sam_vit_h
    assert settings("--peers", "all").peers == every and settings("--peers", "all").sam_vit_h
    assert settings("--peers", "timm,pipelines").peers == ("timm", "pipelines")
    assert settings("--peers", "none").peers == ()
    assert main(["bench", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Default segformer,sam,attention" in help_text
    for group in every[3:]:
        assert f"{group} (" in help_text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--backends", "eager,tensorrt"], "unknown backend"),
        (["--resolutions", "100x200"], "multiples of 32"),
        (["--resolutions", "big"], "is not HxW"),
        (["--models", "efficientvit-seg-b1-cityscape"], "did you mean"),
        (["--peers", "vit"], "unknown peer group"),
    ],
)
def test_bad_arguments_are_user_errors(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--peers", "none", *args] if "--peers" not in args else ["bench", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("efficientvit: error: ") and needle in err and err.count("\n") == 1
