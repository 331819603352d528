"""The sequence every semantic-segmentation layout shares: (image, label file) pairs, missing labels dropped
or refused, each label map read, checked against its image and turned into class indices.

A layout's dataset (Cityscapes, ADE20K, PASCAL VOC, a user's folder) subclasses :class:`LabelMapDataset`,
finds its pairs, hands them to :meth:`~LabelMapDataset.keep_labelled`, and overrides
:meth:`~LabelMapDataset.class_indices` when its label files hold something else than class indices.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torchvision import tv_tensors

from efficientvit.data.common import (
    IGNORE_INDEX,
    FileDataset,
    OnError,
    check_same_size,
    drop_missing,
    load_image,
    read_mask,
)
from efficientvit.errors import EfficientViTError

__all__ = ["LabelMapDataset"]


class LabelMapDataset(FileDataset):
    """Images with one label map each. Item ``i`` is ``transform(image, mask)`` or ``(image, mask)``: a uint8
    ``tv_tensors.Image`` (3, H, W) and an int64 ``tv_tensors.Mask`` (H, W) of class indices, 255 ignored."""

    classes_in_words = "the dataset's classes"
    """How an error about a label value names the classes (``"VOC's 21 classes"``)."""

    def __init__(self, *, transform: Callable[[Any, Any], tuple[Any, Any]] | None, on_error: OnError) -> None:
        super().__init__(on_error)
        self.transform = transform
        self.samples: list[tuple[Path, Path]] = []

    def keep_labelled(self, pairs: list[tuple[Path, Path]], label: str, none_left: str | None = None) -> None:
        """Keep the (image, label file) ``pairs`` whose label file (a ``label``) exists: the others raise, or
        are skipped with a warning under ``on_error="skip"``; ``none_left`` is the error when none is left
        (None: an empty dataset is allowed here, and refused later by the loader)."""
        self.samples = drop_missing(pairs, self.on_error, label)
        if not self.samples and none_left is not None:
            raise EfficientViTError(none_left)

    def class_indices(self, labels: torch.Tensor, path: Path) -> torch.Tensor:
        """The (H, W) int64 class indices of the label file ``path``'s (H, W) values: here the values
        themselves, refused unless each is a class index or 255."""
        invalid = (labels >= len(self.classes)) & (labels != IGNORE_INDEX)
        if invalid.any():
            bad = sorted(set(labels[invalid].unique().tolist()))
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            what = f"label {shown} is not" if len(bad) == 1 else f"labels {shown} are not"
            raise EfficientViTError(
                f"{path}: {what} among {self.classes_in_words} (0..{len(self.classes) - 1}) nor 255 (ignored)"
            )
        return labels

    def load(self, index: int) -> Any:
        image_path, label_path = self.samples[index]
        image = load_image(image_path)  # (3, H, W) uint8
        labels = read_mask(label_path)  # (H, W) int64, the file's values
        check_same_size(image, labels, image_path, label_path)
        mask = tv_tensors.Mask(self.class_indices(labels, label_path))  # (H, W) int64 class indices
        if self.transform is None:
            return image, mask
        return self.transform(image, mask)
