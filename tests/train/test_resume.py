"""Acceptance: a run killed with SIGKILL mid-epoch and resumed ends bitwise equal to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from efficientvit.train.checkpoint import load_checkpoint


def _train(data: Path, output: Path, *extra: str) -> list[str]:
    """A classification run that uses every source of randomness: RandAugment, MixUp/CutMix, EMA."""
    return [
        sys.executable, "-m", "efficientvit", "train", "--task", "cls", "--model", "efficientvit-b0",
        "--data", str(data), "--output", str(output), "--resolution", "32", "--epochs", "2",
        "--batch-size", "2", "--workers", "1", "--mixup", "0.2", "--cutmix", "1.0", "--ema", "0.9",
        "--checkpoint-every", "1", "--deterministic", "--no-progress", "--seed", "5", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"}


def _kill_mid_second_epoch(command: list[str], output: Path) -> None:
    """Start ``command``; once epoch 1 is logged and a later mid-epoch checkpoint exists, SIGKILL it."""
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        logged_at = None
        while time.monotonic() < deadline and process.poll() is None:
            log, last = output / "metrics.jsonl", output / "last.pt"
            if logged_at is None and log.exists() and log.read_text().strip():
                logged_at = last.stat().st_mtime_ns
            elif logged_at is not None and last.stat().st_mtime_ns != logged_at:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode() if process.stderr else ""


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(
    synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    data = synthetic("imagenet")
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_train(data, straight), env=_env(), check=True, capture_output=True)

    _kill_mid_second_epoch(_train(data, killed), killed)
    position = load_checkpoint(killed / "last.pt")["position"]
    assert position["epoch"] == 1 and position["batch"] > 0, position  # killed inside the second epoch
    resumed = subprocess.run(
        [sys.executable, "-m", "efficientvit", "train", "--resume", str(killed), "--no-progress"],
        env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr

    expected, actual = load_checkpoint(straight / "last.pt"), load_checkpoint(killed / "last.pt")
    for part in ("model", "ema"):
        for key, value in expected[part].items():
            assert torch.equal(value, actual[part][key]), f"{part}.{key} differs"
    for state_a, state_b in zip(
        expected["optimizer"]["state"].values(), actual["optimizer"]["state"].values(), strict=True
    ):
        assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert expected["position"] == actual["position"]
    log = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    for got, want in zip(log, reference, strict=True):
        assert got["train_loss"] == want["train_loss"] and got["eval"] == want["eval"]
