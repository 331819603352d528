"""Dataset layouts: each on-disk layout a task can train and evaluate on is one registered object.

A layout module (``ade20k.py``, ``cityscapes.py``, ``pascal_voc.py``, ...) defines its dataset class and
registers a :class:`DatasetLayout` with :func:`register_layout`; ``data/build.py`` imports the layout modules,
and detection, ``build_dataset``, the choices of ``efficientvit train --dataset`` and the evaluation defaults
read the registry. Adding a layout is one new module plus its import in ``data/build.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from efficientvit.errors import EfficientViTError

__all__ = ["DatasetLayout", "get_layout", "layout_names", "layouts_for", "register_layout"]


@dataclass(frozen=True)
class DatasetLayout:
    """One on-disk dataset layout of one task."""

    name: str
    """What ``--dataset`` calls it, e.g. ``"pascal_voc"``."""
    task: str
    """The task it serves: ``"cls"``, ``"seg"`` or ``"sr"``."""
    description: str
    """The layout in one line, for error messages: ``"pascal_voc: ROOT/JPEGImages/*.jpg + ..."``."""
    detect: Callable[[Path], bool]
    """Whether the folder ``root`` holds this layout (cheap: a few ``is_dir`` calls)."""
    build: Callable[..., Dataset]
    """``build(root, split, *, transform, scale, on_error)``: the split as a dataset."""
    eval_short_side: int | None = None
    """The evaluation's shorter side by default (ADE20K: 512); None keeps each image's size."""
    generic: bool = False
    """A catch-all layout, detected after every specific one (a plain ``images/`` + ``masks/`` folder)."""
    write_synthetic: Callable[..., Path] | None = None
    """``write_synthetic(root, *, num_train, num_val, size, seed)``: a tiny learnable copy, for tests."""


_LAYOUTS: dict[tuple[str, str], DatasetLayout] = {}


def register_layout(layout: DatasetLayout) -> DatasetLayout:
    """Add ``layout`` to the registry (a second layout of one name for one task is an error)."""
    key = (layout.task, layout.name)
    if key in _LAYOUTS and _LAYOUTS[key] != layout:
        raise ValueError(f"a {layout.task} dataset layout named {layout.name!r} is already registered")
    _LAYOUTS[key] = layout
    return layout


def layouts_for(task: str) -> list[DatasetLayout]:
    """The layouts of ``task`` in detection order: specific ones as registered, then generic ones."""
    layouts = [layout for (kind, _), layout in _LAYOUTS.items() if kind == task]
    return [layout for layout in layouts if not layout.generic] + [
        layout for layout in layouts if layout.generic
    ]


def layout_names() -> tuple[str, ...]:
    """Every registered layout name, once (``efficientvit train --dataset`` choices)."""
    return tuple(dict.fromkeys(name for _, name in _LAYOUTS))


def get_layout(task: str, name: str) -> DatasetLayout:
    """The layout ``name`` of ``task``; an error naming the accepted ones otherwise."""
    if (task, name) not in _LAYOUTS:
        accepted = "; ".join(layout.description for layout in layouts_for(task))
        raise EfficientViTError(
            f"unknown {task} dataset {name!r}; use one of "
            f"{', '.join(layout.name for layout in layouts_for(task))} ({accepted})"
        )
    return _LAYOUTS[(task, name)]
