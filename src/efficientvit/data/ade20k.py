"""ADE20K SceneParsing (``ADEChallengeData2016``) semantic segmentation, 150 classes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from efficientvit.data.common import (
    IGNORE_INDEX,
    OnError,
    find_images,
    require_dir,
)
from efficientvit.data.label_maps import LabelMapDataset
from efficientvit.data.labels import ADE20K_CLASSES
from efficientvit.data.layouts import DatasetLayout, register_layout
from efficientvit.errors import EfficientViTError

__all__ = ["ADE20KDataset", "ade20k_split_folder"]

_FOLDER = "ADEChallengeData2016"
_SPLITS = {"train": "training", "training": "training", "val": "validation", "validation": "validation"}
_LAYOUT = (
    "{root}/[ADEChallengeData2016/]images/{{training,validation}}/*.jpg and "
    "{root}/[ADEChallengeData2016/]annotations/{{training,validation}}/*.png"
)


def ade20k_split_folder(split: str) -> str:
    """The on-disk folder name of ``split``: "train"/"training" -> "training", "val"/"validation" ->
    "validation"."""
    if split not in _SPLITS:
        raise EfficientViTError(f"unknown ADE20K split {split!r}; use one of {', '.join(_SPLITS)}")
    return _SPLITS[split]


class ADE20KDataset(LabelMapDataset):
    """ADE20K as distributed: ``images/{training,validation}/*.jpg`` + ``annotations/.../*.png``.

    ``root`` may be the ``ADEChallengeData2016`` folder or its parent. Label 0 ("other") becomes 255
    (ignored) and labels 1..150 become 0..149, so prediction ``k`` is ``ADE20K_CLASSES[k]``.

    Item ``i`` is ``transform(image, mask)`` or ``(image, mask)``: a uint8 ``tv_tensors.Image`` (3, H, W) and
    an int64 ``tv_tensors.Mask`` (H, W).
    """

    classes: tuple[str, ...] = ADE20K_CLASSES

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        *,
        transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(transform=transform, on_error=on_error)
        root = Path(root)
        layout = _LAYOUT.format(root=root)
        require_dir(root, "an ADE20K dataset", layout)
        self.root = root / _FOLDER if (root / _FOLDER).is_dir() else root
        self.split = ade20k_split_folder(split)
        image_dir = require_dir(self.root / "images" / self.split, f"the ADE20K {split!r} split", layout)
        label_dir = require_dir(
            self.root / "annotations" / self.split, f"the ADE20K {split!r} labels", layout
        )
        images = find_images(image_dir)
        if not images:
            raise EfficientViTError(f"{image_dir}: contains no images; expected {layout}")
        pairs = [(path, label_dir / f"{path.stem}.png") for path in images]
        none_left = f"{label_dir}: no image of {image_dir} has an annotation; expected {layout}"
        self.keep_labelled(pairs, "ADE20K annotation", none_left)

    def class_indices(self, labels: torch.Tensor, path: Path) -> torch.Tensor:
        """0 ("other") ignored, 1..150 shifted to 0..149."""
        return labels.where(labels != 0, IGNORE_INDEX + 1) - 1


register_layout(
    DatasetLayout(
        name="ade20k",
        task="seg",
        description="ade20k: ROOT/[ADEChallengeData2016/]images/{training,validation}/*.jpg + "
        "annotations/...",
        detect=lambda root: (root / _FOLDER).is_dir() or (root / "images" / "training").is_dir(),
        build=lambda root, split, *, transform, scale, on_error: ADE20KDataset(
            root, split, transform=transform, on_error=on_error
        ),
        eval_short_side=512,
    )
)
