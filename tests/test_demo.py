"""`efficientvit demo` (what `make demo` runs) prints the zoo and timings of real forward passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from efficientvit import demo
from efficientvit.cli import main


def test_demo_prints_zoo_and_latency(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    # A short version: two models in the zoo table, one tiny timing.
    monkeypatch.setattr(demo, "list_models", lambda: ["efficientvit-b0", "efficientvit-seg-b0-cityscapes"])
    monkeypatch.setattr(demo, "TIMED", (("efficientvit-b0-r224", (64, 64)),))
    assert main(["demo", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "efficientvit-seg-b0-cityscapes" in out and "1024x2048" in out
    row = next(line for line in out.splitlines() if line.startswith("efficientvit-b0-r224"))
    assert "64x64" in row and " ms " in row
    assert "torch" in out and "threads" in out  # the machine is reported beside the timings
    # super-resolution of the bundled photo with the shipped weights: the model beats bicubic
    ours, bicubic = (
        float(line.split("PSNR-Y")[1].split("dB")[0]) for line in out.splitlines() if "PSNR-Y" in line
    )
    assert ours > bicubic
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chelsea_bicubic_vs_efficientvit.png",
        "chelsea_input_x0.5.png",
        "chelsea_x2_bicubic.png",
        "chelsea_x2_efficientvit.png",
    ]
