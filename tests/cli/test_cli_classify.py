"""`efficientvit classify`: output for good images of every kind, one-line errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

MODEL = "efficientvit-b0"


@pytest.fixture(scope="module")
def weights(official_checkpoint: Callable[[str], Path]) -> Path:
    return official_checkpoint(MODEL)


def test_prints_a_block_per_image(cli, make_image, weights: Path) -> None:
    first, second = make_image("a.png"), make_image("b.jpg", "jpeg", (45, 70))
    result = cli("classify", first, second, "--model", MODEL, "--weights", weights, "--top-k", "3")
    assert result.code == 0, result.err
    blocks = result.out.strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [str(first), str(second)]
    assert all(len(block.splitlines()) == 4 and block.count("%") == 3 for block in blocks)


def test_json_from_a_directory(cli, make_image, weights: Path) -> None:
    image = make_image("dir/x.png")
    make_image("dir/notes.txt", "text")  # skipped: not an image extension
    result = cli("classify", image.parent, "-m", MODEL, "-w", weights, "-k", "4", "--json")
    assert result.code == 0, result.err
    (entry,) = json.loads(result.out)
    assert entry["image"] == str(image)
    probs = [p["probability"] for p in entry["predictions"]]
    assert len(probs) == 4 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert all(isinstance(p["label"], str) for p in entry["predictions"])


@pytest.mark.parametrize(
    ("kind", "size"), [("rgba", (64, 96)), ("gray", (64, 96)), ("gray16", (64, 96)), ("rgb", (1, 1))]
)
def test_unusual_images_succeed(cli, make_image, weights: Path, kind: str, size: tuple[int, int]) -> None:
    image = make_image(f"{kind}.png", kind, size)
    result = cli("classify", image, "-m", MODEL, "-w", weights, "--json")
    assert result.code == 0, result.err
    assert len(json.loads(result.out)[0]["predictions"]) == 5


def test_missing_image(cli, tmp_path: Path, weights: Path) -> None:
    missing = tmp_path / "nope.jpg"
    cli("classify", missing, "-m", MODEL, "-w", weights).assert_user_error(str(missing), "no such file")


@pytest.mark.parametrize(
    ("kind", "words"),
    [("text", "not an image"), ("truncated_png", "truncated"), ("truncated_jpeg", "truncated")],
)
def test_broken_image(cli, make_image, weights: Path, kind: str, words: str) -> None:
    image = make_image("broken.jpg" if kind != "truncated_png" else "broken.png", kind)
    cli("classify", image, "-m", MODEL, "-w", weights).assert_user_error(str(image), words)


def test_checkpoint_of_another_model(cli, make_image, official_checkpoint) -> None:
    other = official_checkpoint("efficientvit-b1-r224")
    result = cli("classify", make_image("a.png"), "-m", MODEL, "-w", other)
    result.assert_user_error(MODEL, str(other), "does not fit")


def test_pickle_payload_is_refused_and_never_runs(cli, make_image, pickle_checkpoint) -> None:
    result = cli("classify", make_image("a.png"), "-m", MODEL, "-w", pickle_checkpoint.path)
    result.assert_user_error(str(pickle_checkpoint.path), "refusing to unpickle")
    assert not pickle_checkpoint.marker.exists()
    assert pickle_checkpoint.payload_runs()  # the payload is real: an unsafe load would have run it


def test_unknown_model(cli, make_image, weights: Path) -> None:
    result = cli("classify", make_image("a.png"), "-m", "efficientvit-b9", "-w", weights)
    result.assert_user_error("unknown model 'efficientvit-b9'")


def test_segmentation_model_is_refused(cli, make_image, weights: Path) -> None:
    result = cli("classify", make_image("a.png"), "-m", "efficientvit-seg-b0-cityscapes", "-w", weights)
    result.assert_user_error(
        "efficientvit-seg-b0-cityscapes", "segmentation model, not a classification model"
    )


def test_bad_arguments_exit_2(cli, make_image, weights: Path) -> None:
    result = cli("classify", make_image("a.png"), "-m", MODEL, "-w", weights, "--top-k", "0")
    assert result.code == 2 and "--top-k" in result.err
    assert cli("classify").code == 2


def test_subprocess_missing_image_has_no_traceback(cli_subprocess, tmp_path: Path, weights: Path) -> None:
    missing = tmp_path / "gone.png"
    cli_subprocess("classify", missing, "-m", MODEL, "-w", weights).assert_user_error(str(missing))


def test_subprocess_pickle_payload_has_no_traceback(cli_subprocess, make_image, pickle_checkpoint) -> None:
    result = cli_subprocess("classify", make_image("a.png"), "-m", MODEL, "-w", pickle_checkpoint.path)
    result.assert_user_error(str(pickle_checkpoint.path), "refusing to unpickle")
    assert not pickle_checkpoint.marker.exists()


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_one_unreadable_image_among_good_ones_loses_no_result(
    cli, make_image, weights: Path, as_json: bool
) -> None:
    good = [make_image("dir/a.png"), make_image("dir/c.png")]
    bad = make_image("dir/b.jpg", "truncated_jpeg")
    result = cli("classify", good[0].parent, "-m", MODEL, "-w", weights, *(["--json"] if as_json else []))
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith("efficientvit: error: ") and str(bad) in line and "truncated" in line
    if as_json:
        assert [entry["image"] for entry in json.loads(result.out)] == [str(p) for p in good]
    else:
        assert all(str(p) in result.out for p in good) and str(bad) not in result.out
