"""The PASCAL VOC 2012 layout: detected, read, trained and evaluated on by `efficientvit train` / `eval`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientvit.cli import main
from efficientvit.data.build import DATASET_KINDS, build_dataset, detect_dataset
from efficientvit.data.common import IGNORE_INDEX
from efficientvit.data.layouts import get_layout
from efficientvit.data.pascal_voc import VOC_CLASSES, PascalVOCDataset, voc_palette
from efficientvit.errors import EfficientViTError


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layout's own synthetic writer, as the registry gives it."""
    writer = get_layout("seg", "pascal_voc").write_synthetic
    assert writer is not None
    return writer(tmp_path_factory.mktemp("voc"), num_train=8, num_val=4)


def test_the_devkit_colour_map_and_classes() -> None:
    """Values of the VOC devkit's colour map (VOClabelcolormap) and its 21 class names."""
    palette = voc_palette()
    assert palette[:4] == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)]
    assert palette[15] == (192, 128, 128) and palette[255] == (224, 224, 192)
    assert len(VOC_CLASSES) == 21 and VOC_CLASSES[15] == "person"


def test_detected_from_the_devkit_its_parent_or_the_voc2012_folder(voc: Path) -> None:
    assert "pascal_voc" in DATASET_KINDS["seg"]
    for root in (voc, voc / "VOCdevkit", voc / "VOCdevkit" / "VOC2012"):
        assert detect_dataset(root, "seg") == "pascal_voc"


def test_palette_masks_read_as_class_indices_with_borders_ignored(voc: Path) -> None:
    dataset = build_dataset("seg", voc, "val")
    assert isinstance(dataset, PascalVOCDataset) and len(dataset) == 4 and dataset.classes == VOC_CLASSES
    image, mask = dataset[0]
    path = dataset.samples[0][1]
    with Image.open(path) as png:
        assert png.mode == "P"  # as the devkit ships them
        expected = np.asarray(png)
    assert image.shape[-2:] == mask.shape and np.array_equal(mask.numpy(), expected)
    assert IGNORE_INDEX in mask.unique().tolist()


def test_a_label_that_is_no_voc_class_names_the_file(voc: Path, tmp_path: Path) -> None:
    root = shutil.copytree(voc, tmp_path / "bad")
    dataset = PascalVOCDataset(root, "train")
    label = dataset.samples[0][1]
    with Image.open(label) as png:
        values = np.asarray(png).copy()
        palette = png.getpalette()
    values[0, 0] = 42
    broken = Image.fromarray(values, mode="P")
    broken.putpalette(palette)
    broken.save(label)
    with pytest.raises(EfficientViTError, match=f"{label}: label 42 is not among VOC"):
        dataset[0]


def test_a_missing_split_list_and_a_wrong_split_are_one_line(voc: Path, tmp_path: Path) -> None:
    root = shutil.copytree(voc, tmp_path / "nolist")
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").unlink()
    with pytest.raises(EfficientViTError, match=r"val\.txt: cannot read the val list"):
        PascalVOCDataset(root, "val")
    with pytest.raises(EfficientViTError, match="unknown PASCAL VOC split 'test'"):
        PascalVOCDataset(root, "test")


def test_trains_and_evaluates_through_the_command_line(
    voc: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    train = [
        "train", "--task", "seg", "--model", "efficientvit-seg-b0-cityscapes", "--data", str(voc),
        "--dataset", "pascal_voc", "--epochs", "1", "--batch-size", "4", "--crop-size", "64",
        "--workers", "0", "--no-progress", "--output", str(run),
    ]  # fmt: skip
    assert main(train) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "aeroplane" in out and "tvmonitor" in out and "mIoU" in out  # VOC's 21 classes, by name
    report = tmp_path / "eval.json"
    evaluate = [
        "eval", "--task", "seg", "--model", "efficientvit-seg-b0-cityscapes",
        "--weights", str(run / "best.pt"), "--data", str(voc), "--workers", "0", "--no-progress",
        "--json", str(report),
    ]  # fmt: skip
    assert main(evaluate) == 0, capsys.readouterr().err
    metrics = json.loads(report.read_text())
    assert metrics["images"] == 4 and len(metrics["per_class_iou"]) == 21
