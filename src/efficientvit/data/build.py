"""Build a task's dataset from a folder, detecting its on-disk layout when not named.

The layouts are the registry of :mod:`efficientvit.data.layouts` (a new layout: one module, and its name in
``LAYOUT_MODULES`` there).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from efficientvit.data.common import OnError, require_dir
from efficientvit.data.layouts import get_layout, layouts_for
from efficientvit.errors import EfficientViTError
from efficientvit.tasks.registry import TaskName, get_task, task_names

__all__ = ["DATASET_KINDS", "build_dataset", "detect_dataset"]

DATASET_KINDS: dict[str, tuple[str, ...]] = {
    task: tuple(layout.name for layout in layouts_for(task)) for task in task_names(trainable=True)
}
"""The dataset layouts each task accepts (the ``dataset`` argument of :func:`build_dataset`), in detection
order."""


def _check_task(task: str) -> None:
    if not get_task(task).trainable:  # an unknown name raises here
        raise EfficientViTError(
            f"the {get_task(task).title} task has no datasets here; use one of {', '.join(DATASET_KINDS)}"
        )


def _accepted(task: str) -> str:
    return "; ".join(layout.description for layout in layouts_for(task))


def detect_dataset(root: str | os.PathLike[str], task: TaskName) -> str:
    """The dataset layout of the folder ``root`` for ``task`` (one of ``DATASET_KINDS[task]``): the first
    registered layout that detects itself there, specific layouts before generic ones.

    Segmentation: ``"cityscapes"`` if ``root/leftImg8bit`` exists, ``"ade20k"`` if
    ``root/ADEChallengeData2016`` or ``root/images/training`` exists, ``"pascal_voc"`` if ``JPEGImages/`` and
    ``SegmentationClass/`` exist (in ``root``, ``root/VOC2012`` or ``root/VOCdevkit/VOC2012``), ``"folder"``
    if ``images/`` and ``masks/`` exist in ``root`` or in one of its subfolders. Classification is
    ``"imagenet"`` and super-resolution ``"folder"``.
    """
    _check_task(task)
    path = Path(root)
    require_dir(path, f"a dataset folder; accepted layouts for {task}", _accepted(task))
    for layout in layouts_for(task):
        if layout.detect(path):
            return layout.name
    raise EfficientViTError(
        f"{path}: not a {get_task(task).title} dataset layout this package knows; accepted: {_accepted(task)}"
    )


def build_dataset(
    task: TaskName,
    root: str | os.PathLike[str],
    split: str,
    *,
    dataset: str | None = None,
    transform: Callable[..., Any] | None = None,
    scale: int = 2,
    on_error: OnError = "raise",
) -> Dataset:
    """The ``split`` of the dataset in ``root`` for ``task``; ``dataset`` names its layout (detected if None).

    ``transform`` is passed to the dataset (``(image, target) -> (image, target)``, or ``hr -> hr`` for
    super-resolution); ``scale`` is the super-resolution factor.
    """
    _check_task(task)
    layout = get_layout(task, detect_dataset(root, task) if dataset is None else dataset)
    return layout.build(root, split, transform=transform, scale=scale, on_error=on_error)
