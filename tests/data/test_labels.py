"""Tests for efficientvit.data.labels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from efficientvit.data import labels


@pytest.mark.parametrize(
    ("classes", "palette", "count"),
    [
        (labels.CITYSCAPES_CLASSES, labels.CITYSCAPES_PALETTE, 19),
        (labels.ADE20K_CLASSES, labels.ADE20K_PALETTE, 150),
    ],
    ids=["cityscapes", "ade20k"],
)
def test_segmentation_labels_and_palettes(classes: tuple[str, ...], palette: tuple, count: int) -> None:
    assert len(classes) == count
    assert len(set(classes)) == count
    assert all(isinstance(name, str) and name == name.strip() and name for name in classes)
    assert len(palette) == count
    for colour in palette:
        assert len(colour) == 3
        assert all(isinstance(c, int) and 0 <= c <= 255 for c in colour)


def test_cityscapes_known_entries() -> None:
    c, p = labels.CITYSCAPES_CLASSES, labels.CITYSCAPES_PALETTE
    assert c[0] == "road" and p[0] == (128, 64, 128)
    assert c[1] == "sidewalk" and p[1] == (244, 35, 232)
    assert c[10] == "sky" and p[10] == (70, 130, 180)
    assert c[13] == "car" and p[13] == (0, 0, 142)
    assert c[18] == "bicycle" and p[18] == (119, 11, 32)
    assert len(set(p)) == 19


def test_ade20k_known_entries() -> None:
    c, p = labels.ADE20K_CLASSES, labels.ADE20K_PALETTE
    assert c[:4] == ("wall", "building", "sky", "floor")
    assert p[:4] == ((120, 120, 120), (180, 120, 120), (6, 230, 230), (80, 50, 50))
    assert c[7] == "bed"
    assert c[12] == "person" and p[12] == (150, 5, 61)
    assert c[-3:] == ("glass", "clock", "flag")
    assert p[-3:] == ((25, 194, 194), (102, 255, 0), (92, 0, 255))


def test_imagenet_classes() -> None:
    names = labels.imagenet_classes()
    assert len(names) == 1000
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[-1] == "toilet tissue"
    assert labels.imagenet_classes() is names  # cached


def test_imagenet_normalisation() -> None:
    assert labels.IMAGENET_MEAN == (0.485, 0.456, 0.406)
    assert labels.IMAGENET_STD == (0.229, 0.224, 0.225)


def test_labels_import_does_not_load_torchvision() -> None:
    # imagenet_classes() imports torchvision lazily; importing the module itself must stay cheap.
    code = (
        "import sys, efficientvit; before = 'torchvision.models' in sys.modules; "
        "import efficientvit.data.labels; print(before or 'torchvision.models' not in sys.modules)"
    )
    src = str(Path(labels.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "True"
