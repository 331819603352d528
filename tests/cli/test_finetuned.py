"""A training run's best.pt carries what inference needs: `segment` and `classify` use its own classes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from efficientvit.errors import EfficientViTError
from efficientvit.train.config import TrainConfig
from efficientvit.train.run import fit
from efficientvit.zoo import create_model

SEG = "efficientvit-seg-b0-cityscapes"
CLS = "efficientvit-b0"
FAST = {"epochs": 1, "batch_size": 4, "workers": 0, "device": "cpu", "progress": False,
        "warmup_epochs": 0.0, "randaugment": False}  # fmt: skip


def _run(data: Path, output: Path, **fields: object) -> Path:
    fit(TrainConfig(data=str(data), output=str(output), **FAST, **fields))  # type: ignore[arg-type]
    return output / "best.pt"


@pytest.fixture(scope="module")
def seg_run(
    synthetic: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    """best.pt of the Cityscapes model fine-tuned on a 4-class segmentation folder, and those classes."""
    data = synthetic("folder")
    names = (data / "classes.txt").read_text().split()
    assert len(names) == 4
    best = _run(data, tmp_path_factory.mktemp("seg-run") / "run", task="seg", model=SEG, crop_size=(64, 64))
    return best, names


def test_segment_with_a_fine_tuned_best_pt_prints_its_own_class_names(
    cli, make_image, tmp_path: Path, seg_run: tuple[Path, list[str]]
) -> None:
    best, names = seg_run
    image = make_image("photo.png", size=(64, 96))
    out = tmp_path / "out"
    result = cli("segment", image, "-m", SEG, "-w", best, "-o", out, "--backend", "eager")
    assert result.code == 0, result.err
    summary = result.out.splitlines()[0]  # "PATH: name share%, name share%, ..."
    assert summary.startswith(f"{image}: ")
    shown = [part.rsplit(" ", 1)[0] for part in summary.split(": ", 1)[1].split(", ")]
    assert shown and set(shown) <= set(names), summary  # not Cityscapes' road, sidewalk, building, wall
    with Image.open(out / "photo_labels.png") as labels:
        assert np.asarray(labels).max() < 4


def test_a_runs_checkpoint_for_another_model_does_not_fit(
    cli, make_image, tmp_path: Path, seg_run: tuple[Path, list[str]]
) -> None:
    best, _ = seg_run
    image = make_image("photo.png")
    result = cli("segment", image, "-m", "efficientvit-seg-b1-cityscapes", "-w", best, "-o", tmp_path / "out")
    result.assert_user_error(str(best), "does not fit", f"trained as {SEG} with 4 classes")


def test_the_run_checkpoint_metadata_and_an_old_checkpoint_without_it(
    seg_run: tuple[Path, list[str]], tmp_path: Path
) -> None:
    best, names = seg_run
    state = torch.load(best, weights_only=True)
    meta = state["pretrained"]
    assert (meta["model_name"], meta["num_classes"], meta["overrides"]) == (SEG, 4, {"num_classes": 4})
    assert meta["class_names"] == names and len(meta["palette"]) == 4
    assert torch.load(best.parent / "last.pt", weights_only=True)["pretrained"] == meta
    info = create_model(SEG, weights=best).info
    assert info.num_classes == 4 and list(info.class_names) == names
    # a checkpoint from before the metadata loads as it did: with the class count given, without names
    del state["pretrained"]
    torch.save(state, tmp_path / "old.pt")
    assert create_model(SEG, weights=tmp_path / "old.pt", num_classes=4).info.class_names == ()
    with pytest.raises(EfficientViTError, match="does not fit model"):
        create_model(SEG, weights=tmp_path / "old.pt")


def test_classify_with_a_fine_tuned_best_pt_uses_the_datasets_classes(
    cli, make_image, synthetic: Callable[..., Path], tmp_path: Path
) -> None:
    data = synthetic("imagenet")
    classes = sorted(p.name for p in (data / "train").iterdir())
    best = _run(data, tmp_path / "run", task="cls", model=CLS, resolution=32)
    image = make_image("photo.png", size=(40, 40))
    result = cli("classify", image, "-m", CLS, "-w", best, "--backend", "eager", "--json", "-k", "2")
    assert result.code == 0, result.err
    (entry,) = json.loads(result.out)
    labels = [p["label"] for p in entry["predictions"]]
    assert len(labels) == 2 and set(labels) <= set(classes)
