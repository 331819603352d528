"""Dataset layouts: each on-disk layout a task can train and evaluate on is one registered object.

A layout module (``ade20k.py``, ``cityscapes.py``, ``pascal_voc.py``, ...) defines its dataset class and
registers a :class:`DatasetLayout` with :func:`register_layout`. The accessors below import the modules of
``LAYOUT_MODULES`` first, so detection, ``build_dataset``, the choices of ``efficientvit train --dataset`` and
the evaluation defaults always see every layout. Adding a layout is one new module plus its name there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from efficientvit.errors import EfficientViTError
from efficientvit.tasks.registry import TaskName

__all__ = ["DatasetLayout", "get_layout", "layout_names", "layouts_for", "register_layout"]


@dataclass(frozen=True)
class DatasetLayout:
    """One on-disk dataset layout of one task."""

    name: str
    """What ``--dataset`` calls it, e.g. ``"pascal_voc"``."""
    task: TaskName
    """The name of the task it serves (:mod:`efficientvit.tasks.registry`)."""
    description: str
    """The layout in one line, for error messages: ``"pascal_voc: ROOT/JPEGImages/*.jpg + ..."``."""
    detect: Callable[[Path], bool]
    """Whether the folder ``root`` holds this layout (cheap: a few ``is_dir`` calls)."""
    build: Callable[..., Dataset]
    """``build(root, split, *, transform, scale, on_error)``: the split as a dataset."""
    eval_short_side: int | None = None
    """The evaluation's shorter side by default (ADE20K: 512); None keeps each image's size."""
    official_input: tuple[int, int] | None = None
    """The (h, w) the official evaluator feeds the model for every image of this layout, whatever its size
    (Cityscapes: 1024x2048); None: the shorter side to ``eval_short_side`` (see
    :func:`efficientvit.tasks.segmentation.official_size`)."""
    generic: bool = False
    """A catch-all layout, detected after every specific one (a plain ``images/`` + ``masks/`` folder)."""
    write_synthetic: Callable[..., Path] | None = None
    """``write_synthetic(root, *, num_train, num_val, size, seed)``: a tiny learnable copy, for tests."""


LAYOUT_MODULES = (
    "cityscapes",
    "ade20k",
    "pascal_voc",
    "segmentation_folder",
    "classification",
    "super_resolution",
)
"""The modules of ``efficientvit.data`` that register layouts; specific layouts of a task are detected in this
order."""

_LAYOUTS: dict[str, dict[str, DatasetLayout]] = {}
"""Task name -> layout name -> layout, in registration order."""


def _registered() -> dict[str, dict[str, DatasetLayout]]:
    """The registry, once every module of ``LAYOUT_MODULES`` has registered its layouts (imported on first
    use: the layout modules import this one)."""
    for module in LAYOUT_MODULES:
        importlib.import_module(f"efficientvit.data.{module}")
    return _LAYOUTS


def register_layout(layout: DatasetLayout) -> DatasetLayout:
    """Add ``layout`` to the registry (a second layout of one name for one task is an error)."""
    layouts = _LAYOUTS.setdefault(layout.task, {})
    if layouts.get(layout.name, layout) != layout:
        raise ValueError(f"a {layout.task} dataset layout named {layout.name!r} is already registered")
    layouts[layout.name] = layout
    return layout


def layouts_for(task: str) -> list[DatasetLayout]:
    """The layouts of ``task`` in detection order: specific ones as registered, then generic ones."""
    layouts = list(_registered().get(task, {}).values())
    return [layout for layout in layouts if not layout.generic] + [
        layout for layout in layouts if layout.generic
    ]


def layout_names() -> tuple[str, ...]:
    """Every registered layout name, once (``efficientvit train --dataset`` choices)."""
    return tuple(dict.fromkeys(name for layouts in _registered().values() for name in layouts))


def get_layout(task: str, name: str) -> DatasetLayout:
    """The layout ``name`` of ``task``; an error naming the accepted ones otherwise."""
    layout = _registered().get(task, {}).get(name)
    if layout is None:
        accepted = "; ".join(layout.description for layout in layouts_for(task))
        raise EfficientViTError(
            f"unknown {task} dataset {name!r}; use one of "
            f"{', '.join(layout.name for layout in layouts_for(task))} ({accepted})"
        )
    return layout
