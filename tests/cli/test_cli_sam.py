"""`efficientvit sam`: prompted and automatic masks written at the image size; clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MODEL = "efficientvit-sam-l0"


@pytest.fixture(scope="module")
def weights(official_checkpoint: Callable[[str], Path]) -> Path:
    return official_checkpoint(MODEL)


def test_points_and_box_write_mask_and_overlay(cli, make_image, tmp_path: Path, weights: Path) -> None:
    image = make_image("photo.png", size=(48, 80))
    out = tmp_path / "out"
    args = ["sam", str(image), "-m", MODEL, "-w", str(weights), "-o", str(out)]
    result = cli(*args, "--point", "20,10", "--point", "60,30,0", "--box", "5,5,70,40")
    assert result.code == 0, result.err
    mask = np.asarray(Image.open(out / "photo_sam_mask.png"))
    assert mask.shape == (48, 80) and set(np.unique(mask)) <= {0, 255}
    assert Image.open(out / "photo_sam_overlay.png").size == (80, 48)
    assert "mask score" in result.out


def test_auto_writes_coco_rle_json(cli, make_image, tmp_path: Path, weights: Path) -> None:
    image = make_image("scene.png", size=(40, 56))
    out = tmp_path / "out"
    args = ["sam", str(image), "-m", MODEL, "-w", str(weights), "-o", str(out)]
    result = cli(*args, "--auto", "--points-per-side", "2")
    assert result.code == 0, result.err
    annotations = json.loads((out / "scene_sam_auto.json").read_text())
    for annotation in annotations:
        assert annotation["segmentation"]["size"] == [40, 56]
        assert {"area", "bbox", "predicted_iou", "stability_score", "point_coords", "crop_box"} <= set(
            annotation
        )
    assert Image.open(out / "scene_sam_auto_overlay.png").size == (56, 40)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give prompts"),
        (["--box", "500,500,600,600"], "box"),
        (["--auto", "--point", "1,1"], "not both"),
    ],
)
def test_bad_prompts_are_one_line_errors(cli, make_image, tmp_path, weights, extra, message) -> None:
    image = make_image("x.png", size=(32, 32))
    result = cli("sam", str(image), "-m", MODEL, "-w", str(weights), "-o", str(tmp_path / "o"), *extra)
    assert result.code == 1 and message in result.err and len(result.err.strip().splitlines()) == 1


def test_malformed_point_is_an_argument_error(cli, make_image, tmp_path, weights) -> None:
    image = make_image("x.png", size=(32, 32))
    result = cli("sam", str(image), "-m", MODEL, "-w", str(weights), "-o", str(tmp_path), "--point", "1;2")
    assert result.code == 2 and "X,Y" in result.err


def test_non_image_file_and_wrong_task(cli, make_image, tmp_path, weights, official_checkpoint) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    result = cli("sam", str(text), "-m", MODEL, "-w", str(weights), "-o", str(tmp_path), "--point", "1,1")
    assert result.code == 1 and "notes.jpg" in result.err
    seg = "efficientvit-seg-b0-cityscapes"
    image = make_image("y.png", size=(32, 32))
    args = ["sam", str(image), "-m", seg, "-w", str(official_checkpoint(seg)), "-o", str(tmp_path)]
    result = cli(*args, "--point", "1,1")
    assert result.code == 1 and "segment-anything" in result.err


def test_a_folder_with_auto_thresholds(cli, make_image, tmp_path: Path, weights: Path) -> None:
    make_image("photos/a.png", size=(40, 56))
    make_image("photos/b.png", size=(36, 30))
    out = tmp_path / "out"
    args = ["sam", str(tmp_path / "photos"), "-m", MODEL, "-w", str(weights), "-o", str(out), "--auto"]
    loose = ["--points-per-side", "2", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]
    result = cli(*args, *loose)
    assert result.code == 0, result.err
    sizes = {}
    for stem in ("a", "b"):
        annotations = json.loads((out / f"{stem}_sam_auto.json").read_text())
        assert annotations, stem  # thresholds at 0 keep masks even on random weights
        sizes[stem] = annotations[0]["segmentation"]["size"]
        assert f"{stem}.png: {len(annotations)} masks" in result.out
    assert sizes == {"a": [40, 56], "b": [36, 30]}
    strict = cli(*args, "--points-per-side", "2", "--pred-iou-thresh", "1.5")
    assert strict.code == 2 and "not in [0, 1]" in strict.err


def test_prompts_apply_to_every_image(cli, make_image, tmp_path: Path, weights: Path) -> None:
    first, second = make_image("one.png", size=(48, 80)), make_image("two.png", size=(60, 60))
    out = tmp_path / "out"
    args = ["sam", str(first), str(second), "-m", MODEL, "-w", str(weights), "-o", str(out)]
    result = cli(*args, "--point", "20,10")
    assert result.code == 0, result.err
    assert Image.open(out / "one_sam_mask.png").size == (80, 48)
    assert Image.open(out / "two_sam_mask.png").size == (60, 60)


def test_one_unreadable_image_among_good_ones_loses_no_result(
    cli, make_image, tmp_path: Path, weights: Path
) -> None:
    good = [make_image("in/a.png"), make_image("in/c.png")]
    bad = make_image("in/b.png", "truncated_png")
    out = tmp_path / "out"
    result = cli("sam", good[0].parent, "-m", MODEL, "-w", weights, "-o", out, "--point", "10,10")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith("efficientvit: error: ") and str(bad) in line
    assert {p.name for p in out.iterdir()} == {f"{s}_sam_{k}.png" for s in "ac" for k in ("overlay", "mask")}
