"""Tests for efficientvit.data.synthetic: real layouts, determinism, learnable colour -> class structure."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from efficientvit.data import build_dataset, write_synthetic_dataset
from efficientvit.data.synthetic import SHAPE_CLASSES, SHAPE_COLOURS

LAYOUTS = ("imagenet", "cityscapes", "ade20k", "folder", "coco", "sr")
SIZE = (32, 64)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deterministic(tmp_path: Path, layout: str) -> None:
    options = {"num_train": 3, "num_val": 1, "size": SIZE}
    first = _files(write_synthetic_dataset(tmp_path / "a", layout, **options))  # type: ignore[arg-type]
    second = _files(write_synthetic_dataset(tmp_path / "b", layout, **options))  # type: ignore[arg-type]
    other = _files(write_synthetic_dataset(tmp_path / "c", layout, seed=1, **options))  # type: ignore[arg-type]
    assert first == second
    assert first.keys() == other.keys() and first != other


def test_real_file_names(tmp_path: Path) -> None:
    expected = {
        "imagenet": ["train/n00000001/train_00000.JPEG", "val/n00000001/val_00000.JPEG"],
        "cityscapes": [
            "leftImg8bit/train/aachen/aachen_000000_000000_leftImg8bit.png",
            "gtFine/train/aachen/aachen_000000_000000_gtFine_labelIds.png",
            "leftImg8bit/val/frankfurt/frankfurt_000000_000000_leftImg8bit.png",
        ],
        "ade20k": [
            "ADEChallengeData2016/images/training/ADE_train_00000001.jpg",
            "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png",
        ],
        "folder": ["classes.txt", "train/images/0000.png", "val/masks/0000.png"],
        "coco": ["train2017/000000000001.jpg", "annotations/instances_val2017.json"],
        "sr": ["DIV2K_train_HR/0001.png", "DIV2K_valid_HR/0801.png"],
    }
    for layout, names in expected.items():
        root = write_synthetic_dataset(tmp_path / layout, layout, num_train=2, num_val=1, size=SIZE)  # type: ignore[arg-type]
        for name in names:
            assert (root / name).is_file(), name


def test_folder_colour_determines_class(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, "folder", num_train=6, num_val=0, size=SIZE)
    assert (root / "classes.txt").read_text().split() == ["background", *SHAPE_CLASSES]
    colours = [SHAPE_COLOURS["background"], *(SHAPE_COLOURS[name] for name in SHAPE_CLASSES)]
    seen = set()
    for image_path in sorted((root / "train" / "images").iterdir()):
        image = np.asarray(Image.open(image_path)).astype(np.float64)
        mask = np.asarray(Image.open(root / "train" / "masks" / image_path.name))
        for k, colour in enumerate(colours):
            if (mask == k).any():
                seen.add(k)
                mean = image[mask == k].mean(axis=0)
                assert np.abs(mean - colour).max() < 4, (image_path, k, mean)
        assert (mask == 255).any()
    assert seen == {0, 1, 2, 3}  # every shape class occurs


def test_imagenet_class_has_its_colour(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, "imagenet", num_train=6, num_val=3, size=SIZE)
    dataset = build_dataset("cls", root, "train")
    assert dataset.classes == ["n00000001", "n00000002", "n00000003"]
    background = np.array(SHAPE_COLOURS["background"], dtype=np.float64)
    for image, label in (dataset[i] for i in range(len(dataset))):
        pixels = image.permute(1, 2, 0).reshape(-1, 3).numpy().astype(np.float64)
        shape = pixels[np.abs(pixels - background).max(axis=1) > 40]
        assert len(shape) > 20
        # JPEG blurs the edges of small shapes, so ask for the nearest shape colour rather than an exact one.
        distances = [np.abs(shape.mean(axis=0) - SHAPE_COLOURS[name]).max() for name in SHAPE_CLASSES]
        assert int(np.argmin(distances)) == label and min(distances) < 30


def test_ignored_ids_present(tmp_path: Path) -> None:
    cityscapes = write_synthetic_dataset(tmp_path / "c", "cityscapes", num_train=1, num_val=0, size=SIZE)
    ids = np.asarray(Image.open(next((cityscapes / "gtFine").rglob("*_labelIds.png"))))
    assert {0, 7} <= set(np.unique(ids).tolist()) <= {0, 7, 23, 24, 26}
    ade = write_synthetic_dataset(tmp_path / "a", "ade20k", num_train=1, num_val=0, size=SIZE)
    labels = np.asarray(Image.open(next((ade / "ADEChallengeData2016" / "annotations").rglob("*.png"))))
    assert 0 in labels and labels.max() <= 150


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools on NumPy 2
def test_coco_json_loads_and_masks_match_colours(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, "coco", num_train=3, num_val=1, size=SIZE)
    path = root / "annotations" / "instances_train2017.json"
    content = json.loads(path.read_text())
    assert {"images", "annotations", "categories"} <= content.keys()
    assert all(a["iscrowd"] == 0 and a["area"] > 0 and len(a["bbox"]) == 4 for a in content["annotations"])
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    for ann in coco.dataset["annotations"]:
        info = coco.imgs[ann["image_id"]]
        image = np.asarray(Image.open(root / "train2017" / info["file_name"])).astype(np.float64)
        mask = coco.annToMask(ann).astype(bool)
        # Edge pixels mix with the background (rasterisers differ there): ask for the nearest shape colour.
        distances = [np.abs(image[mask].mean(axis=0) - SHAPE_COLOURS[name]).max() for name in SHAPE_CLASSES]
        assert SHAPE_CLASSES[int(np.argmin(distances))] == coco.cats[ann["category_id"]]["name"]
        assert min(distances) < 30
        assert abs(mask.sum() - ann["area"]) < 0.25 * ann["area"]


def test_sr_images_at_least_64(tmp_path: Path) -> None:
    root = write_synthetic_dataset(tmp_path, "sr", num_train=1, num_val=1, size=(16, 32))
    for path in root.rglob("*.png"):
        assert Image.open(path).size == (64, 64)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown synthetic layout"):
        write_synthetic_dataset(tmp_path, "voc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        write_synthetic_dataset(tmp_path, "folder", size=(4, 4))
