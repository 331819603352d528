"""Build a task's dataset from a folder, detecting its on-disk layout when not named."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from torch.utils.data import Dataset

from efficientvit.data.ade20k import ADE20KDataset
from efficientvit.data.cityscapes import CityscapesDataset
from efficientvit.data.classification import ImageFolderDataset
from efficientvit.data.common import OnError, require_dir
from efficientvit.data.segmentation_folder import SegmentationFolderDataset
from efficientvit.data.super_resolution import SuperResolutionFolderDataset
from efficientvit.errors import EfficientViTError

__all__ = ["DATASET_KINDS", "Task", "build_dataset", "detect_dataset"]

Task = Literal["cls", "seg", "sr"]

DATASET_KINDS: dict[str, tuple[str, ...]] = {
    "cls": ("imagenet",),
    "seg": ("cityscapes", "ade20k", "folder"),
    "sr": ("folder",),
}
"""The dataset kinds each task accepts (the ``dataset`` argument of :func:`build_dataset`)."""

_LAYOUTS: dict[tuple[str, str], str] = {
    ("cls", "imagenet"): "imagenet: ROOT/{train,val}/CLASS/*.JPEG",
    (
        "seg",
        "cityscapes",
    ): "cityscapes: ROOT/leftImg8bit/{train,val}/CITY/*_leftImg8bit.png + ROOT/gtFine/...",
    (
        "seg",
        "ade20k",
    ): "ade20k: ROOT/[ADEChallengeData2016/]images/{training,validation}/*.jpg + annotations/...",
    ("seg", "folder"): "folder: ROOT/[SPLIT/]images/*.jpg|png + ROOT/[SPLIT/]masks/*.png + ROOT/classes.txt",
    ("sr", "folder"): "folder: ROOT/*.png, ROOT/{train,val}/*.png or ROOT/DIV2K_{train,valid}_HR/*.png",
}


def _check_task(task: str) -> None:
    if task not in DATASET_KINDS:
        raise EfficientViTError(f"unknown task {task!r}; use one of {', '.join(DATASET_KINDS)}")


def _accepted(task: str) -> str:
    return "; ".join(_LAYOUTS[(task, kind)] for kind in DATASET_KINDS[task])


def _is_segmentation_folder(path: Path) -> bool:
    return (path / "images").is_dir() and (path / "masks").is_dir()


def detect_dataset(root: str | os.PathLike[str], task: Task) -> str:
    """The dataset kind of the folder ``root`` for ``task`` (one of ``DATASET_KINDS[task]``).

    Segmentation: ``"cityscapes"`` if ``root/leftImg8bit`` exists, ``"ade20k"`` if
    ``root/ADEChallengeData2016`` or ``root/images/training`` exists, ``"folder"`` if ``images/`` and
    ``masks/`` exist in ``root`` or in one of its subfolders. Classification is always ``"imagenet"`` and
    super-resolution ``"folder"``.
    """
    _check_task(task)
    path = Path(root)
    require_dir(path, f"a dataset folder; accepted layouts for {task}", _accepted(task))
    if task != "seg":
        return DATASET_KINDS[task][0]
    if (path / "leftImg8bit").is_dir():
        return "cityscapes"
    if (path / "ADEChallengeData2016").is_dir() or (path / "images" / "training").is_dir():
        return "ade20k"
    if _is_segmentation_folder(path) or any(
        _is_segmentation_folder(child) for child in path.iterdir() if child.is_dir()
    ):
        return "folder"
    raise EfficientViTError(
        f"{path}: not a segmentation dataset layout this package knows; accepted: {_accepted(task)}"
    )


def build_dataset(
    task: Task,
    root: str | os.PathLike[str],
    split: str,
    *,
    dataset: str | None = None,
    transform: Callable[..., Any] | None = None,
    scale: int = 2,
    on_error: OnError = "raise",
) -> Dataset:
    """The ``split`` of the dataset in ``root`` for ``task``; ``dataset`` names its kind (detected if None).

    ``transform`` is passed to the dataset (``(image, target) -> (image, target)``, or ``hr -> hr`` for
    super-resolution); ``scale`` is the super-resolution factor.
    """
    _check_task(task)
    kind = detect_dataset(root, task) if dataset is None else dataset
    if kind not in DATASET_KINDS[task]:
        raise EfficientViTError(
            f"unknown {task} dataset {kind!r}; use one of {', '.join(DATASET_KINDS[task])} "
            f"({_accepted(task)})"
        )
    if task == "cls":
        return ImageFolderDataset(root, split, transform=transform, on_error=on_error)
    if task == "sr":
        return SuperResolutionFolderDataset(root, split, scale=scale, transform=transform, on_error=on_error)
    if kind == "cityscapes":
        return CityscapesDataset(root, split, transform=transform, on_error=on_error)
    if kind == "ade20k":
        return ADE20KDataset(root, split, transform=transform, on_error=on_error)
    return SegmentationFolderDataset(root, split, transform=transform, on_error=on_error)
