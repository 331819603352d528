"""Acceptance: `torchrun --nproc_per_node 2` on CPU (gloo) trains and evaluates like one process, 2x batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from efficientvit.train.checkpoint import load_checkpoint

SR_MODEL = "efficientvit-sr-full-x2"


def _run(*args: str, processes: int = 1) -> subprocess.CompletedProcess[str]:
    launcher = [sys.executable, "-m", "efficientvit"]
    if processes > 1:
        launcher = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "-m", "efficientvit",
        ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([*launcher, *args], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_two_processes_with_batch_b_train_like_one_with_batch_2b(
    synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    """A normalisation-free model (the super-resolution one) makes the two equal up to float rounding:
    the gradient all-reduce averages the same 2B samples that the single process averages."""
    data = synthetic("sr")
    common = [
        "train", "--task", "sr", "--model", SR_MODEL, "--data", str(data), "--epochs", "2",
        "--patch-size", "32", "--workers", "0", "--no-progress", "--warmup-epochs", "0",
    ]  # fmt: skip
    _run(*common, "--batch-size", "4", "--output", str(tmp_path / "one"))
    _run(*common, "--batch-size", "2", "--output", str(tmp_path / "two"), processes=2)
    one, two = load_checkpoint(tmp_path / "one" / "last.pt"), load_checkpoint(tmp_path / "two" / "last.pt")
    assert one["position"] == two["position"]
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    logs = [
        [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        for run in ("one", "two")
    ]
    for a, b in zip(*logs, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["eval"]["psnr"] == pytest.approx(a["eval"]["psnr"], abs=1e-3)


def test_two_processes_evaluate_exactly_like_one(synthetic: Callable[..., Path], tmp_path: Path) -> None:
    """Each process scores its shard; summing the confusion matrices gives the single-process mIoU."""
    data = synthetic("folder")
    weights = tmp_path / "seg.safetensors"
    from efficientvit.weights import save_safetensors
    from efficientvit.zoo import create_model

    torch.manual_seed(0)
    save_safetensors(create_model("efficientvit-seg-b0-cityscapes", num_classes=4), weights)
    common = [
        "eval", "--task", "seg", "--model", "efficientvit-seg-b0-cityscapes", "--weights", str(weights),
        "--data", str(data), "--workers", "0", "--no-progress", "--num-classes", "4",
    ]  # fmt: skip
    _run(*common, "--json", str(tmp_path / "one.json"))
    _run(*common, "--json", str(tmp_path / "two.json"), processes=2)
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert one["images"] == two["images"]
    assert two["mIoU"] == pytest.approx(one["mIoU"], abs=1e-9)
    assert two["per_class_iou"] == pytest.approx(one["per_class_iou"], abs=1e-9, nan_ok=True)
