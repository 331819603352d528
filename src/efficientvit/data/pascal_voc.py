"""PASCAL VOC 2012 semantic segmentation: 20 object classes and the background, object borders ignored.

The layout as the VOC 2012 devkit unpacks it (``VOCdevkit/VOC2012/``):

* ``JPEGImages/<id>.jpg``: the photos;
* ``SegmentationClass/<id>.png``: palette PNGs whose pixel values are class indices (0 background,
  1..20 the classes of :data:`VOC_CLASSES`) and 255 on object borders and "difficult" regions (ignored);
* ``ImageSets/Segmentation/{train,val,trainval}.txt``: the ids of each split, one per line.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from efficientvit.data.common import (
    OnError,
    require_dir,
)
from efficientvit.data.label_maps import LabelMapDataset
from efficientvit.data.layouts import DatasetLayout, register_layout
from efficientvit.errors import EfficientViTError

__all__ = ["VOC_CLASSES", "PascalVOCDataset", "voc_palette", "write_synthetic_voc"]

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)  # fmt: skip
"""The 21 classes in label order, as the devkit names them."""

_SPLITS = ("train", "val", "trainval")
_LAYOUT = (
    "{root}/JPEGImages/ID.jpg, {root}/SegmentationClass/ID.png (palette PNG: class index per pixel, 255 = "
    "ignore) and {root}/ImageSets/Segmentation/{{train,val}}.txt (ROOT may also be VOCdevkit or its parent)"
)


def voc_palette(count: int = 256) -> list[tuple[int, int, int]]:
    """The devkit's colour map: colour ``k`` spreads the bits of ``k`` over the top bits of R, G and B
    (class 1 is (128, 0, 0), 2 is (0, 128, 0), 255 is (224, 224, 192))."""
    colours = []
    for index in range(count):
        red = green = blue = 0
        value = index
        for bit in range(8):
            red |= ((value >> 0) & 1) << (7 - bit)
            green |= ((value >> 1) & 1) << (7 - bit)
            blue |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        colours.append((red, green, blue))
    return colours


def _voc_root(root: Path) -> Path | None:
    """The folder holding ``JPEGImages`` and ``SegmentationClass``: ``root``, ``root/VOC2012`` or
    ``root/VOCdevkit/VOC2012``; None if none does."""
    for candidate in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (candidate / "JPEGImages").is_dir() and (candidate / "SegmentationClass").is_dir():
            return candidate
    return None


class PascalVOCDataset(LabelMapDataset):
    """PASCAL VOC 2012 segmentation as the devkit unpacks it (see the module's docstring).

    Item ``i`` is ``transform(image, mask)`` or ``(image, mask)``: a uint8 ``tv_tensors.Image`` (3, H, W) and
    an int64 ``tv_tensors.Mask`` (H, W) of class indices 0..20 and 255 (ignored).
    """

    classes: tuple[str, ...] = VOC_CLASSES
    classes_in_words = "VOC's 21 classes"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        *,
        transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(transform=transform, on_error=on_error)
        layout = _LAYOUT.format(root=root)
        require_dir(Path(root), "a PASCAL VOC dataset", layout)
        found = _voc_root(Path(root))
        if found is None:
            raise EfficientViTError(f"{root}: has no JPEGImages/ and SegmentationClass/; expected {layout}")
        self.root = found
        if split not in _SPLITS:
            raise EfficientViTError(f"unknown PASCAL VOC split {split!r}; use one of {', '.join(_SPLITS)}")
        listing = self.root / "ImageSets" / "Segmentation" / f"{split}.txt"
        try:
            ids = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise EfficientViTError(
                f"{listing}: cannot read the {split} list ({exc.strerror or exc})"
            ) from exc
        if not ids:
            raise EfficientViTError(f"{listing}: lists no image ids; write one id per line")
        pairs = [
            (self.root / "JPEGImages" / f"{name}.jpg", self.root / "SegmentationClass" / f"{name}.png")
            for name in ids
        ]
        self.keep_labelled(pairs, "PASCAL VOC segmentation")


def write_synthetic_voc(
    root: str | os.PathLike[str], *, num_train: int = 8, num_val: int = 4, size: tuple[int, int] = (64, 128),
    seed: int = 0,
) -> Path:  # fmt: skip
    """A tiny learnable VOC layout under ``root/VOCdevkit/VOC2012`` (for tests): the synthetic ``folder``
    scenes as JPEGs, their masks (background 0, shapes 1..3, a 255 strip) as palette PNGs."""
    from efficientvit.data.synthetic import write_synthetic_dataset

    base = Path(root) / "VOCdevkit" / "VOC2012"
    with tempfile.TemporaryDirectory() as temporary:
        scenes = write_synthetic_dataset(
            temporary, "folder", num_train=num_train, num_val=num_val, size=size, seed=seed
        )
        _convert_scenes(Path(scenes), base)
    return Path(root)


def _convert_scenes(scenes: Path, base: Path) -> None:
    """The synthetic ``folder`` layout in ``scenes`` rewritten as VOC under ``base``."""
    palette = [channel for colour in voc_palette() for channel in colour]
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        ids = []
        for image_path in sorted((scenes / split / "images").iterdir()):
            name = f"2012_{split}_{image_path.stem}"
            Image.open(image_path).convert("RGB").save(base / "JPEGImages" / f"{name}.jpg", quality=95)
            mask = Image.fromarray(
                np.asarray(Image.open(scenes / split / "masks" / image_path.name)), mode="P"
            )
            mask.putpalette(palette)
            mask.save(base / "SegmentationClass" / f"{name}.png")
            ids.append(name)
        (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")


register_layout(
    DatasetLayout(
        name="pascal_voc",
        task="seg",
        description="pascal_voc: ROOT/[VOCdevkit/VOC2012/]JPEGImages/*.jpg + SegmentationClass/*.png + "
        "ImageSets/Segmentation/{train,val}.txt",
        detect=lambda root: _voc_root(root) is not None,
        build=lambda root, split, *, transform, scale, on_error: PascalVOCDataset(
            root, split, transform=transform, on_error=on_error
        ),
        write_synthetic=write_synthetic_voc,
    )
)
