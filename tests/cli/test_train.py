"""`efficientvit train` and `efficientvit eval` from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from efficientvit.weights import save_safetensors
from efficientvit.zoo import create_model

SEG = ["--task", "seg", "--model", "efficientvit-seg-b0-cityscapes"]
FAST = ["--epochs", "1", "--batch-size", "4", "--crop-size", "64", "--workers", "0", "--no-progress"]


def test_train_prints_a_summary_with_class_names_then_refuses_to_overwrite(
    cli: Callable, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    data, run = synthetic("folder"), tmp_path / "run"
    result = cli("train", *SEG, "--data", data, "--output", run, *FAST)
    assert result.code == 0, result.err
    assert f"run: {run}" in result.out
    for row in ("background", "disc", "rectangle", "triangle", "mIoU", "pixel accuracy"):
        assert row in result.out
    again = cli("train", *SEG, "--data", data, "--output", run, *FAST)
    again.assert_user_error(str(run), "already holds a run", "--resume")


def test_resume_may_extend_epochs_but_not_change_the_recipe(
    cli: Callable, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    assert cli("train", *SEG, "--data", synthetic("folder"), "--output", run, *FAST).code == 0
    cli("train", "--resume", run, "--lr", "0.5").assert_user_error("cannot change: lr")
    result = cli("train", "--resume", run, "--epochs", "2", "--no-progress")
    assert result.code == 0, result.err
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    cli("train", "--resume", tmp_path / "nothing").assert_user_error("config.json")


def test_stop_after_ends_the_run_early_on_the_full_schedule_and_resume_finishes_it(
    cli: Callable, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    data = synthetic("folder")
    two_epochs = [*SEG, "--data", data, *[arg if arg != "1" else "2" for arg in FAST], "--lr", "0.01"]
    cli("train", *two_epochs, "-o", tmp_path / "r", "--stop-after", "3").assert_user_error(
        "stop_after 3 is beyond epochs 2"
    )

    def records(run: Path) -> list[dict]:
        return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert cli("train", *two_epochs, "--output", tmp_path / "whole").code == 0
    stopped = cli("train", *two_epochs, "--output", tmp_path / "run", "--stop-after", "1")
    assert stopped.code == 0, stopped.err
    assert "(1 epochs" in stopped.out and "mIoU" in stopped.out  # evaluated at the stop
    [first] = records(tmp_path / "run")
    assert "eval" in first and first["lr"] == records(tmp_path / "whole")[0]["lr"]  # the two-epoch schedule
    finished = cli("train", "--resume", tmp_path / "run", "--no-progress")
    assert finished.code == 0, finished.err
    assert [(r["epoch"], r["lr"]) for r in records(tmp_path / "run")] == [
        (r["epoch"], r["lr"]) for r in records(tmp_path / "whole")
    ]


def test_user_errors_are_one_line(cli: Callable, synthetic: Callable[..., Path], tmp_path: Path) -> None:
    cli("train", "--model", "efficientvit-b0").assert_user_error("--task", "--data", "--resume")
    run = tmp_path / "run"
    cli("train", *SEG, "--data", tmp_path / "missing", "-o", run, *FAST).assert_user_error(
        str(tmp_path / "missing")
    )
    assert not run.exists()  # nothing is written for a run that cannot start
    empty = tmp_path / "empty"
    empty.mkdir()
    cli("train", *SEG, "--data", empty, "--output", tmp_path / "r", *FAST).assert_user_error(
        "leftImg8bit", "ADEChallengeData2016", "masks"
    )
    cli("eval", "--task", "cls", *SEG[2:], "--data", synthetic("imagenet")).assert_user_error(
        "is a segmentation model, not a classification model"
    )


def test_eval_of_a_classifier_prints_top1_top5_and_writes_json(
    cli: Callable, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    data = synthetic("imagenet")
    classes = sorted(p.name for p in (data / "train").iterdir())
    torch.manual_seed(0)
    weights = save_safetensors(
        create_model("efficientvit-b0", num_classes=len(classes)), tmp_path / "w.safetensors"
    )
    result = cli(
        "eval", "--task", "cls", "--model", "efficientvit-b0", "--weights", weights, "--data", data,
        "--no-progress", "--workers", "0", "--json", tmp_path / "m.json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "top-1 (%)" in result.out and "top-5 (%)" in result.out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["top5"] == 100.0  # fewer than 5 classes: the answer is always among the top 5
    assert 0.0 <= metrics["top1"] <= 100.0


def test_eval_super_resolution_on_any_folder_of_photos_reports_model_and_bicubic(
    cli: Callable, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    import shutil

    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted((synthetic("sr") / "DIV2K_valid_HR").iterdir())[:2]:
        shutil.copy(path, photos / path.name)
    torch.manual_seed(0)
    weights = save_safetensors(create_model("efficientvit-sr-full-x2"), tmp_path / "sr.safetensors")
    result = cli(
        "eval", "--task", "sr", "--model", "efficientvit-sr-full-x2", "--weights", weights, "--data", photos,
        "--no-progress", "--workers", "0",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "(val, 2 images)" in lines[0]
    assert any(line.startswith("model") for line in lines) and any(
        line.startswith("bicubic") for line in lines
    )


def test_resume_refuses_a_hand_edited_recipe_or_changed_data_naming_the_difference(
    cli: Callable, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    import shutil

    data, run = tmp_path / "data", tmp_path / "run"
    shutil.copytree(synthetic("folder"), data)  # the shared dataset stays as it is
    assert cli("train", *SEG, "--data", data, "--output", run, *FAST).code == 0
    config_path = run / "config.json"
    saved = config_path.read_text()
    config_path.write_text(saved.replace('"lr": 0.001', '"lr": 0.002'))
    cli("train", "--resume", run, "--epochs", "2").assert_user_error("differs from the run's last.pt", "lr")
    config_path.write_text(saved)

    for kind in ("images", "masks"):  # one more training pair
        first = sorted((data / "train" / kind).iterdir())[0]
        shutil.copy(first, first.with_name(f"extra{first.suffix}"))
    result = cli("train", "--resume", run, "--epochs", "2", "--no-progress")
    result.assert_user_error("data in", "changed since the run was saved", "2 new", "--resume-changed-data")
    result = cli("train", "--resume", run, "--epochs", "2", "--no-progress", "--resume-changed-data")
    assert result.code == 0, result.err
    result = cli("train", "--resume", run, "--epochs", "3", "--no-progress", "--device", "cpu")
    assert result.code == 0, result.err  # the device may change (a GPU run continued on a CPU)
