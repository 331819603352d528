"""Acceptance: `torchrun --nproc_per_node 2` on CPU (gloo) trains and evaluates like one process, 2x batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from efficientvit.train.checkpoint import load_checkpoint

SR_MODEL = "efficientvit-sr-full-x2"


def _run(*args: str, processes: int = 1, check: bool = True) -> subprocess.CompletedProcess[str]:
    launcher = [sys.executable, "-m", "efficientvit"]
    if processes > 1:
        launcher = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "-m", "efficientvit",
        ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([*launcher, *args], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 or not check, result.stdout + result.stderr
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


def test_one_bad_image_under_torchrun_is_one_line_naming_it(
    synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    """The process that reads the bad image names it; the other one says it stopped because of that, not a
    gloo traceback; torchrun's own failure summary (with its own traceback, which is not ours to change) shows
    the file as the root cause."""
    data = tmp_path / "data"
    shutil.copytree(synthetic("ade20k"), data)
    bad = sorted((data / "ADEChallengeData2016" / "images" / "training").iterdir())[3]
    bad.write_bytes(os.urandom(100))
    result = _run(
        "train", "--task", "seg", "--model", "efficientvit-seg-b1-ade20k", "--data", str(data),
        "--epochs", "1", "--workers", "0", "--no-progress", "--batch-size", "2",
        "--output", str(tmp_path / "run"), processes=2, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if line.startswith("efficientvit: error: ")]
    assert 1 <= len(errors) <= 2, output
    assert f"{bad}: not an image file" in errors[0] and errors[0].startswith("efficientvit: error: rank "), (
        output
    )
    assert all("another process of this torchrun job failed" in line for line in errors[1:]), output
    assert "Connection closed by peer" not in output and "[rank" not in output, output
    assert output.count("Traceback") == 1, output  # torchrun's ChildFailedError
    root_cause = output.split("Root Cause")[1]
    assert f"traceback : {bad}: not an image file" in root_cause, output
