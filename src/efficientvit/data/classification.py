"""ImageNet-style classification folders: ``root/{train,val}/CLASS/*.JPEG``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from efficientvit.data.common import FileDataset, OnError, find_images, load_image, require_dir
from efficientvit.data.layouts import DatasetLayout, register_layout
from efficientvit.errors import EfficientViTError

__all__ = ["ImageFolderDataset"]

_LAYOUT = "{root}/{{train,val}}/CLASS/*.JPEG (one folder per class; .jpg/.png/... also accepted)"


def _class_dirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


class ImageFolderDataset(FileDataset):
    """Images sorted into one folder per class, as ImageNet ships: ``root/{split}/CLASS/*.JPEG``.

    The classes are the sorted folder names of the train split (``root/train``; if there is none, of the split
    itself), so a val split that lacks some classes keeps the train split's label indices. If ``root/{split}``
    does not exist but ``root`` itself holds class folders, ``root`` is used directly (for any split). Images
    are found recursively inside each class folder.

    Item ``i`` is ``transform(image, label)``, or ``(image, label)`` without a transform, where ``image`` is a
    uint8 ``tv_tensors.Image`` of shape (3, H, W) and ``label`` an ``int``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        transform: Callable[[Any, int], tuple[Any, int]] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(on_error)
        self.root = Path(root)
        self.split = split
        self.transform = transform
        layout = _LAYOUT.format(root=self.root)
        require_dir(self.root, "an image-classification dataset", layout)
        directory = self.root / split
        if not directory.is_dir():
            if not _class_dirs(self.root) or (self.root / "train").is_dir():
                raise EfficientViTError(f"{directory}: no such split folder; expected {layout}")
            directory = self.root  # the root itself holds the class folders
        self.directory = directory
        train_dir = self.root / "train"
        class_root = train_dir if train_dir.is_dir() and directory != self.root else directory
        self.classes: list[str] = [p.name for p in _class_dirs(class_root)]
        if not self.classes:
            raise EfficientViTError(f"{class_root}: contains no class folders; expected {layout}")
        index = {name: i for i, name in enumerate(self.classes)}
        self.samples: list[tuple[Path, int]] = []
        for class_dir in _class_dirs(directory):
            if class_dir.name not in index:
                raise EfficientViTError(
                    f"{class_dir}: class folder is not among the {len(self.classes)} classes of "
                    f"{class_root}; every split must use the train split's class folders"
                )
            label = index[class_dir.name]
            self.samples.extend((path, label) for path in find_images(class_dir, recursive=True))
        if not self.samples:
            raise EfficientViTError(f"{directory}: class folders contain no image files; expected {layout}")

    def load(self, index: int) -> Any:
        path, label = self.samples[index]
        image = load_image(path)  # (3, H, W) uint8
        if self.transform is None:
            return image, label
        return self.transform(image, label)


register_layout(
    DatasetLayout(
        name="imagenet",
        task="cls",
        description="imagenet: ROOT/{train,val}/CLASS/*.JPEG",
        detect=lambda root: True,  # any folder of class folders
        build=lambda root, split, *, transform, scale, on_error: ImageFolderDataset(
            root, split, transform=transform, on_error=on_error
        ),
        generic=True,
    )
)
