"""The task registry: classification, segmentation, segment-anything and super-resolution as one object each.

A :class:`Task` holds everything that differs between tasks: the facts other code asks about (does it label
classes, does each image keep its own size, which graphs does its inference export) and the hooks that
build its model, its training loss and metrics, its data transforms and its summary table. Each task's
module in this package (``classification.py``, ``segmentation.py``, ``sam.py``, ``super_resolution.py``)
defines its ``TASK``; :func:`get_task` imports the module on first use. Code elsewhere asks the task
(``get_task(info.task).labels_classes``) and never compares task names: this module is the one place that
does.

This module imports no PyTorch, so configs and the command line can name tasks cheaply.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from efficientvit.errors import EfficientViTError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from efficientvit.train.config import TrainConfig
    from efficientvit.train.tasks import TaskSpec
    from efficientvit.zoo import ModelInfo

__all__ = ["TASK_MODULES", "Task", "TaskName", "get_task", "is_task", "require_task", "task_names"]

TaskName = Literal["cls", "seg", "sam", "sr"]
"""The short task names that model metadata, configs and ``--task`` use."""

TASK_MODULES: dict[TaskName, str] = {
    "cls": "classification",
    "seg": "segmentation",
    "sam": "sam",
    "sr": "super_resolution",
}
"""The module of ``efficientvit.tasks`` that defines each task's ``TASK``."""

Transforms = tuple["Callable[..., Any] | None", "Callable[..., Any] | None"]


@dataclass(frozen=True)
class Task:
    """One task: its facts and its hooks (None: the task does not do that)."""

    name: TaskName
    title: str
    """What users call it: ``"classification"``, ``"segment-anything"``, ..."""
    pipeline_tag: str
    """The Hugging Face hub's pipeline tag for a model card."""
    graphs: tuple[str, ...]
    """The graphs (``efficientvit.runtime.GRAPHS``) its inference runs; the first takes the image."""
    build_model: Callable[[ModelInfo], nn.Module]
    """The architecture of a registry entry, with random weights."""
    labels_classes: bool = False
    """It predicts named classes: a class count, class names and ``--num-classes``."""
    dense: bool = False
    """It labels every pixel: a palette per class, the evaluation protocols, the resolution sweeps of the
    paper's dense-prediction measurements."""
    own_size: bool = False
    """Each image keeps its own size (aspect ratio), so an export must take any height and width."""
    size_divisor: int = 1
    """The model's inputs are padded or resized to multiples of this."""
    fixed_frame: bool = False
    """The model takes one square frame (its resolution): each image is resized and padded into it, and an
    export keeps the traced size."""
    export_parts: tuple[str, ...] = ()
    """The parts ``efficientvit export --part`` writes (empty: no ONNX export); the first is the default."""
    batched_evaluation: bool = False
    """Evaluation stacks images into batches (their sizes agree); otherwise one image per batch."""
    training: Callable[..., TaskSpec] | None = None
    """``training(*, num_classes, label_smoothing, scale, protocol)``: the loss and metrics (None: the task
    is not trained here)."""
    transforms: Callable[[TrainConfig, ModelInfo, str, str], Transforms] | None = None
    """``transforms(config, info, layout, protocol)``: the (training, evaluation) sample transforms."""
    batch_transform: Callable[[TrainConfig, int], Callable[..., Any] | None] | None = None
    """``batch_transform(config, num_classes)``: a transform of whole training batches (MixUp / CutMix)."""
    summary_table: Callable[[dict[str, Any], Sequence[str]], str] | None = None
    """``summary_table(metrics, class_names)``: the evaluation's metrics as the command line prints them."""
    entry: str | None = None
    """The Python call a user makes for one image, as benchmark rows name it (``"segment()"``)."""
    entry_steps: str = ""
    """What that call does, in a few words, for the benchmark's notes."""
    entry_call: Callable[[nn.Module, Tensor, str], Callable[[], object]] | None = None
    """``entry_call(model, image, backend)``: that call prepared for one (3, H, W) uint8 image."""

    @property
    def trainable(self) -> bool:
        return self.training is not None

    def require(self, info: ModelInfo) -> ModelInfo:
        """``info`` itself if its model does this task; otherwise an error naming both tasks."""
        if info.task != self.name:
            raise EfficientViTError(
                f"{info.name} is a {get_task(info.task).title} model, not a {self.title} model; "
                "`efficientvit models` lists each model's task"
            )
        return info


def task_names(*, trainable: bool = False) -> tuple[TaskName, ...]:
    """Every task's name (``trainable``: only those ``efficientvit train`` takes), in registry order."""
    names: tuple[TaskName, ...] = get_args(TaskName)
    return tuple(name for name in names if not trainable or get_task(name).trainable)


def get_task(name: str) -> Task:
    """The task called ``name``; an error naming the known ones otherwise."""
    if name not in TASK_MODULES:
        raise EfficientViTError(f"unknown task {name!r}; expected one of {', '.join(TASK_MODULES)}")
    module = importlib.import_module(f"efficientvit.tasks.{TASK_MODULES[name]}")  # type: ignore[index]
    task: Task = module.TASK
    return task


def is_task(info: object, name: str) -> bool:
    """Whether ``info`` is the metadata of a model of the task ``name`` (False for anything else)."""
    return getattr(info, "task", None) == name


def require_task(info: ModelInfo, name: str) -> ModelInfo:
    """``info`` itself if its model does the task ``name``; otherwise a user-facing error naming both."""
    return get_task(name).require(info)
