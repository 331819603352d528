"""Cityscapes semantic segmentation in its official layout (``leftImg8bit/`` + ``gtFine/``), 19 train ids."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from efficientvit.data.common import (
    IGNORE_INDEX,
    OnError,
    require_dir,
)
from efficientvit.data.label_maps import LabelMapDataset
from efficientvit.data.labels import CITYSCAPES_CLASSES
from efficientvit.data.layouts import DatasetLayout, register_layout
from efficientvit.errors import EfficientViTError

__all__ = ["CITYSCAPES_ID_TO_TRAIN_ID", "CityscapesDataset", "cityscapes_train_id_table"]

# Label id -> train id of the 19 evaluated classes (cityscapesScripts/helpers/labels.py); all others ignored.
CITYSCAPES_ID_TO_TRAIN_ID: dict[int, int] = {
    7: 0,  # road
    8: 1,  # sidewalk
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    17: 5,  # pole
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}

_IMAGE_SUFFIX = "_leftImg8bit.png"
_LAYOUT = (
    "{root}/leftImg8bit/{{train,val,test}}/CITY/*_leftImg8bit.png and "
    "{root}/gtFine/{{train,val,test}}/CITY/*_gtFine_labelIds.png (or *_gtFine_labelTrainIds.png)"
)


def cityscapes_train_id_table() -> torch.Tensor:
    """A 256-entry int64 lookup table: ``table[label_id]`` is the train id (0..18), 255 if not evaluated."""
    table = torch.full((256,), IGNORE_INDEX, dtype=torch.int64)
    for label_id, train_id in CITYSCAPES_ID_TO_TRAIN_ID.items():
        table[label_id] = train_id
    return table


class CityscapesDataset(LabelMapDataset):
    """Cityscapes fine annotations: ``leftImg8bit/{split}/CITY/*_leftImg8bit.png`` with ``gtFine/...``.

    A ``*_gtFine_labelTrainIds.png`` (written by cityscapesScripts' ``createTrainIdLabelImgs``) is used as is
    when present; otherwise ``*_gtFine_labelIds.png`` is mapped to the 19 train ids through
    :func:`cityscapes_train_id_table`, every other id becoming 255 (ignored).

    Item ``i`` is ``transform(image, mask)`` or ``(image, mask)``: a uint8 ``tv_tensors.Image`` (3, H, W) and
    an int64 ``tv_tensors.Mask`` (H, W) with values 0..18 or 255.
    """

    classes: tuple[str, ...] = CITYSCAPES_CLASSES

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        *,
        transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(transform=transform, on_error=on_error)
        self.root = Path(root)
        self.split = split
        layout = _LAYOUT.format(root=self.root)
        require_dir(self.root, "a Cityscapes dataset", layout)
        image_dir = require_dir(self.root / "leftImg8bit" / split, f"the Cityscapes {split!r} split", layout)
        label_dir = require_dir(self.root / "gtFine" / split, f"the Cityscapes {split!r} labels", layout)
        pairs = []
        for image_path in sorted(image_dir.glob(f"*/*{_IMAGE_SUFFIX}")):
            stem = image_path.name[: -len(_IMAGE_SUFFIX)]
            city_labels = label_dir / image_path.parent.name
            train_ids = city_labels / f"{stem}_gtFine_labelTrainIds.png"
            pairs.append(
                (
                    image_path,
                    train_ids if train_ids.is_file() else city_labels / f"{stem}_gtFine_labelIds.png",
                )
            )
        if not pairs:
            raise EfficientViTError(f"{image_dir}: contains no */*{_IMAGE_SUFFIX} images; expected {layout}")
        none_left = f"{label_dir}: no image of {image_dir} has a label file; expected {layout}"
        self.keep_labelled(pairs, "Cityscapes label file", none_left)
        self._table = cityscapes_train_id_table()

    def class_indices(self, labels: torch.Tensor, path: Path) -> torch.Tensor:
        """Train ids as they are; label ids mapped to them (every other id ignored)."""
        if path.name.endswith("_labelTrainIds.png"):
            return labels
        return self._table[labels.clamp(0, 255)]  # (H, W) train ids, 255 where not evaluated


register_layout(
    DatasetLayout(
        name="cityscapes",
        task="seg",
        description="cityscapes: ROOT/leftImg8bit/{train,val}/CITY/*_leftImg8bit.png + ROOT/gtFine/...",
        detect=lambda root: (root / "leftImg8bit").is_dir(),
        official_input=(1024, 2048),
        build=lambda root, split, *, transform, scale, on_error: CityscapesDataset(
            root, split, transform=transform, on_error=on_error
        ),
    )
)
