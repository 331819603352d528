"""A user's own segmentation data: ``images/`` + ``masks/`` with the same stems, and ``classes.txt``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from efficientvit.data.common import (
    IGNORE_INDEX,
    OnError,
    find_images,
    require_dir,
)
from efficientvit.data.label_maps import LabelMapDataset
from efficientvit.data.layouts import DatasetLayout, register_layout
from efficientvit.errors import EfficientViTError

__all__ = ["SegmentationFolderDataset", "read_class_names"]

_LAYOUT = (
    "{root}/[SPLIT/]images/NAME.jpg|png, {root}/[SPLIT/]masks/NAME.png (one class index per pixel, "
    "255 = ignore) and {root}/classes.txt (one class name per line)"
)


def read_class_names(path: Path) -> list[str]:
    """The class names of ``classes.txt``: one per line, whitespace stripped, blank lines skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EfficientViTError(f"{path}: cannot read the class list ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise EfficientViTError(f"{path}: class list is not UTF-8 text") from exc
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise EfficientViTError(f"{path}: class list is empty; write one class name per line")
    if len(names) > IGNORE_INDEX:
        raise EfficientViTError(f"{path}: {len(names)} classes, but at most 255 fit (255 means ignore)")
    return names


class SegmentationFolderDataset(LabelMapDataset):
    """Segmentation data in a plain folder: ``root/images/*`` with ``root/masks/<same stem>.png``.

    ``root/classes.txt`` names the classes, one per line; mask pixel ``k`` is class ``k`` and 255 is ignored.
    Any other value ``>= len(classes)`` is an error naming the mask. With ``split``, the images and masks are
    read from ``root/{split}/images`` and ``root/{split}/masks`` (``classes.txt`` in ``root`` or
    ``root/{split}``); if ``root/{split}`` does not exist but ``root/images`` does, ``root`` is used directly.

    Item ``i`` is ``transform(image, mask)`` or ``(image, mask)``: a uint8 ``tv_tensors.Image`` (3, H, W) and
    an int64 ``tv_tensors.Mask`` (H, W).
    """

    classes_in_words = "the classes of classes.txt"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        *,
        transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(transform=transform, on_error=on_error)
        self.root = Path(root)
        self.split = split
        layout = _LAYOUT.format(root=self.root)
        require_dir(self.root, "a segmentation folder", layout)
        base = self.root
        if split is not None and (self.root / split).is_dir():
            base = self.root / split
        image_dir = require_dir(base / "images", "a segmentation folder's image folder", layout)
        mask_dir = require_dir(base / "masks", "a segmentation folder's mask folder", layout)
        classes_file = base / "classes.txt" if (base / "classes.txt").is_file() else self.root / "classes.txt"
        if not classes_file.is_file():
            raise EfficientViTError(f"{classes_file}: no class list; expected {layout}")
        self.classes: list[str] = read_class_names(classes_file)
        images = find_images(image_dir)
        if not images:
            raise EfficientViTError(f"{image_dir}: contains no images; expected {layout}")
        pairs = [(path, mask_dir / f"{path.stem}.png") for path in images]
        none_left = f"{mask_dir}: no image of {image_dir} has a mask; expected {layout}"
        self.keep_labelled(pairs, "mask", none_left)


def _is_segmentation_folder(path: Path) -> bool:
    return (path / "images").is_dir() and (path / "masks").is_dir()


register_layout(
    DatasetLayout(
        name="folder",
        task="seg",
        description="folder: ROOT/[SPLIT/]images/*.jpg|png + ROOT/[SPLIT/]masks/*.png + ROOT/classes.txt",
        detect=lambda root: (
            _is_segmentation_folder(root)
            or any(_is_segmentation_folder(child) for child in root.iterdir() if child.is_dir())
        ),
        build=lambda root, split, *, transform, scale, on_error: SegmentationFolderDataset(
            root, split, transform=transform, on_error=on_error
        ),
        generic=True,
    )
)
