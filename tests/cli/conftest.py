"""CLI test helpers: running `efficientvit` in-process or in a subprocess, test images, bad checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from efficientvit.cli import main

REPO = Path(__file__).parents[2]


@dataclass
class Result:
    """Exit code and captured output of one CLI run."""

    code: int
    out: str
    err: str

    def assert_user_error(self, *needles: str) -> None:
        """Exit 1 with exactly one `efficientvit: error:` line on stderr that names each of ``needles``."""
        assert self.code == 1, (self.code, self.out, self.err)
        assert "Traceback" not in self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("efficientvit: error: ")
        for needle in needles:
            assert needle in lines[0]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli(*args)`` runs ``main(args)`` in this process and captures its output."""

    def run(*args: object) -> Result:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def cli_subprocess() -> Callable[..., Result]:
    """``cli_subprocess(*args)`` runs ``python -m efficientvit args`` in a fresh interpreter."""

    def run(*args: object) -> Result:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "efficientvit", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def _write(path: Path, kind: str, size: tuple[int, int]) -> None:
    h, w = size
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "rgb":
        Image.fromarray(rgb).save(path)
    elif kind == "jpeg":
        Image.fromarray(rgb).save(path, format="JPEG")
    elif kind == "rgba":
        Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(path)
    elif kind == "gray":
        Image.fromarray(rgb[..., 0]).save(path)
    elif kind == "gray16":
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(path)
        assert Image.open(path).mode.startswith("I")
    elif kind == "text":
        path.write_text("this is not an image\n")
    elif kind in ("truncated_png", "truncated_jpeg"):
        _write(path, "rgb" if kind == "truncated_png" else "jpeg", size)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        raise ValueError(kind)


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    """``make_image(name, kind="rgb", size=(64, 96))``: a test image (or a broken file) in tmp_path."""

    def make(name: str, kind: str = "rgb", size: tuple[int, int] = (64, 96)) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, kind, size)
        return path

    return make


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appearing proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


@dataclass
class PickleCheckpoint:
    """A .pt whose unpickling would create ``marker``, beside a real-looking state dict."""

    path: Path
    marker: Path

    def payload_runs(self) -> bool:
        """Whether an unsafe ``torch.load`` runs the payload (proves the refusal test is not vacuous)."""
        torch.load(self.path, weights_only=False)
        return self.marker.exists()


@pytest.fixture
def pickle_checkpoint(tmp_path: Path) -> PickleCheckpoint:
    """A checkpoint carrying a pickle payload that would create a marker file in tmp_path."""
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"weight": torch.zeros(1)}, "extra": _Payload(marker)}, path)
    return PickleCheckpoint(path, marker)
