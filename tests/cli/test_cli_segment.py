"""`efficientvit segment`: overlays and label maps at the original size, one-line errors for bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MODEL = "efficientvit-seg-b0-cityscapes"


@pytest.fixture(scope="module")
def weights(official_checkpoint: Callable[[str], Path]) -> Path:
    return official_checkpoint(MODEL)


def _check_outputs(out_dir: Path, stem: str, size: tuple[int, int]) -> None:
    with Image.open(out_dir / f"{stem}_overlay.png") as overlay:
        assert overlay.mode == "RGB" and overlay.size == size[::-1]
    with Image.open(out_dir / f"{stem}_labels.png") as labels:
        assert labels.mode == "L" and labels.size == size[::-1]
        assert np.asarray(labels).max() < 19


def test_writes_overlay_and_labels_at_original_size(cli, make_image, tmp_path: Path, weights: Path) -> None:
    make_image("in/a.png", size=(64, 96))
    make_image("in/odd.jpg", "jpeg", size=(70, 45))  # not a multiple of 32
    out_dir = tmp_path / "out"
    result = cli("segment", tmp_path / "in", "-m", MODEL, "-w", weights, "-o", out_dir, "--alpha", "0.3")
    assert result.code == 0, result.err
    _check_outputs(out_dir, "a", (64, 96))
    _check_outputs(out_dir, "odd", (70, 45))
    for name in ("a_overlay.png", "a_labels.png", "odd_overlay.png", "odd_labels.png"):
        assert str(out_dir / name) in result.out
    summaries = [line for line in result.out.splitlines() if not line.startswith(" ")]
    assert len(summaries) == 2 and all("%" in line for line in summaries)


@pytest.mark.parametrize(
    ("kind", "size"), [("rgba", (40, 50)), ("gray", (33, 65)), ("gray16", (64, 64)), ("rgb", (1, 1))]
)
def test_unusual_images_succeed(
    cli, make_image, tmp_path: Path, weights: Path, kind: str, size: tuple[int, int]
) -> None:
    image = make_image(f"{kind}.png", kind, size)
    result = cli("segment", image, "-m", MODEL, "-w", weights, "-o", tmp_path / "out", "--short-side", "128")
    assert result.code == 0, result.err
    _check_outputs(tmp_path / "out", kind, size)


def test_default_resolution_and_label_values(cli, make_image, tmp_path: Path, weights: Path) -> None:
    image = make_image("x.png", size=(45, 70))
    result = cli("segment", image, "-m", MODEL, "-w", weights, "-o", tmp_path)
    assert result.code == 0, result.err
    _check_outputs(tmp_path, "x", (45, 70))


@pytest.mark.parametrize("kind", ["text", "truncated_png", "truncated_jpeg"])
def test_broken_image(cli, make_image, tmp_path: Path, weights: Path, kind: str) -> None:
    image = make_image(f"broken.{'png' if kind == 'truncated_png' else 'jpg'}", kind)
    cli("segment", image, "-m", MODEL, "-w", weights, "-o", tmp_path / "out").assert_user_error(str(image))
    assert not (tmp_path / "out").exists()


def test_missing_image(cli, tmp_path: Path, weights: Path) -> None:
    missing = tmp_path / "none.png"
    result = cli("segment", missing, "-m", MODEL, "-w", weights, "-o", tmp_path)
    result.assert_user_error(str(missing), "no such file")


def test_classification_model_is_refused(cli, make_image, tmp_path: Path, weights: Path) -> None:
    result = cli("segment", make_image("a.png"), "-m", "efficientvit-b0", "-w", weights, "-o", tmp_path)
    result.assert_user_error("efficientvit-b0", "classification model, not a segmentation model")


def test_checkpoint_of_another_model(cli, make_image, tmp_path: Path, official_checkpoint) -> None:
    other = official_checkpoint("efficientvit-b0")
    result = cli("segment", make_image("a.png"), "-m", MODEL, "-w", other, "-o", tmp_path)
    result.assert_user_error(MODEL, str(other))


def test_colliding_output_names(cli, make_image, tmp_path: Path, weights: Path) -> None:
    first, second = make_image("a.png"), make_image("a.jpg", "jpeg")
    result = cli("segment", first, second, "-m", MODEL, "-w", weights, "-o", tmp_path / "out")
    result.assert_user_error(str(first), str(second))


def test_unwritable_output(cli, make_image, tmp_path: Path, weights: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli(
        "segment", make_image("a.png"), "-m", MODEL, "-w", weights, "-o", blocker, "--short-side", "64"
    )
    result.assert_user_error(str(blocker / "a_overlay.png"), "cannot write PNG")


def test_bad_alpha_exits_2(cli, make_image, tmp_path: Path, weights: Path) -> None:
    result = cli("segment", make_image("a.png"), "-m", MODEL, "-w", weights, "-o", tmp_path, "--alpha", "2")
    assert result.code == 2 and "--alpha" in result.err


def test_subprocess_truncated_image_has_no_traceback(cli_subprocess, make_image, tmp_path, weights) -> None:
    image = make_image("cut.png", "truncated_png")
    cli_subprocess("segment", image, "-m", MODEL, "-w", weights, "-o", tmp_path).assert_user_error(str(image))


def test_one_unreadable_image_among_good_ones_loses_no_result(
    cli, make_image, tmp_path: Path, weights: Path
) -> None:
    good = [make_image("in/a.png"), make_image("in/c.png")]
    bad = make_image("in/b.png", "text")
    out = tmp_path / "out"
    result = cli("segment", good[0].parent, "-m", MODEL, "-w", weights, "-o", out, "--backend", "eager")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith("efficientvit: error: ") and str(bad) in line
    assert sorted(p.name for p in out.iterdir()) == [
        "a_labels.png", "a_overlay.png", "c_labels.png", "c_overlay.png"
    ]  # fmt: skip
