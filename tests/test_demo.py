"""`efficientvit demo` (what `make demo` runs) prints the zoo and timings of real forward passes."""

from __future__ import annotations

import pytest

from efficientvit import demo
from efficientvit.cli import main


def test_demo_prints_zoo_and_latency(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # A short version: two models in the zoo table, one tiny timing.
    monkeypatch.setattr(demo, "list_models", lambda: ["efficientvit-b0", "efficientvit-seg-b0-cityscapes"])
    monkeypatch.setattr(demo, "TIMED", (("efficientvit-b0-r224", (64, 64)),))
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "efficientvit-seg-b0-cityscapes" in out and "1024x2048" in out
    row = next(line for line in out.splitlines() if line.startswith("efficientvit-b0-r224"))
    assert "64x64" in row and " ms " in row
    assert "torch" in out and "threads" in out  # the machine is reported beside the timings
