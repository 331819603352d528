"""The one typed configuration of a training run; it is saved beside the run as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any, Literal, get_args

from efficientvit import json_output
from efficientvit.atomic import atomic_write_text
from efficientvit.devices import check_device_name
from efficientvit.errors import EfficientViTError
from efficientvit.files import regular_file
from efficientvit.tasks.registry import TaskName, task_names

__all__ = ["FIELD_RULES", "RESUMABLE_FIELDS", "AmpMode", "Rule", "TaskName", "TrainConfig", "check_field"]

AmpMode = Literal["auto", "none", "bf16", "fp16"]


RESUMABLE_FIELDS = ("epochs", "stop_after", "workers", "progress", "device", "output")
"""The settings a resumed run may change (a GPU run may continue on a CPU); the others define the run."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. ``None`` means "the task's or model's default"."""

    task: TaskName
    """What is trained: cls (classification), seg (segmentation) or sr (super-resolution)."""
    model: str
    """Registered model name (``efficientvit models``)."""
    data: str
    """Dataset root (ImageNet-style folders, Cityscapes, ADE20K, a custom segmentation folder, HR images)."""
    output: str
    """Run directory: config.json, metrics.jsonl, last.pt, best.pt."""
    dataset: str | None = None
    """Dataset layout (default: detected from the dataset root)."""
    weights: str | None = None
    """Initial weights (fine-tuning): a file, hf://..., or "official"; mismatched head weights are skipped."""
    num_classes: int | None = None
    """Replace the model's classifier with one of this many classes (default: the dataset's count)."""
    epochs: int = 10
    """Passes over the training set."""
    stop_after: int | None = None
    """End this run after this epoch, evaluated and saved (the learning-rate schedule still spans
    ``epochs``); ``--resume`` with a later ``--stop-after`` or none continues it."""
    batch_size: int = 16
    """Training batch per process; the global batch is ``batch_size`` times the number of processes."""
    eval_batch_size: int | None = None
    """Evaluation batch per process (default: ``batch_size`` for classification, 1 for segmentation and
    super-resolution, whose image sizes vary)."""
    lr: float = 1e-3
    """Peak learning rate of AdamW."""
    min_lr: float = 0.0
    """Learning rate at the end of the cosine decay."""
    weight_decay: float = 0.05
    """AdamW weight decay; never on norms and biases."""
    warmup_epochs: float = 1.0
    """Epochs of linear warm-up before the cosine decay; fractions allowed."""
    grad_clip: float | None = 2.0
    """Clip the gradient norm to this value; 0 (or ``None``) turns clipping off."""
    label_smoothing: float = 0.1
    """Label smoothing of the classification loss."""
    mixup_alpha: float = 0.0
    """MixUp alpha for classification; 0 turns it off."""
    cutmix_alpha: float = 0.0
    """CutMix alpha for classification; 0 turns it off."""
    randaugment: bool = True
    """RandAugment on classification training images."""
    ema_decay: float | None = None
    """Evaluate and keep an exponential moving average of the weights (e.g. 0.9998)."""
    amp: AmpMode = "auto"
    """Mixed precision: bf16, fp16 (with a gradient scaler), none (float32), or auto: bf16 on CUDA, float32
    elsewhere."""
    resolution: int | None = None
    """Classification input size (default: the model's)."""
    crop_size: tuple[int, int] | None = None
    """Segmentation training crop (default: the shorter side of the model's resolution, squared)."""
    eval_short_side: int | None = None
    """Segmentation evaluation: resize the shorter side to this (default: ADE20K 512, others unchanged)."""
    scale: int | None = None
    """Super-resolution factor (default: the model's own, e.g. 4 for efficientvit-sr-full-x4); another
    factor builds the model for it."""
    patch_size: int = 96
    """Super-resolution training patch, in high-resolution pixels."""
    repeat: int = 1
    """Visit every training sample this many times per epoch (with fresh augmentation each time): useful when
    a dataset has a few large images, as in super-resolution."""
    workers: int = 2
    """Data-loading processes, per process under torchrun."""
    seed: int = 0
    """Seed of the model's initialisation, the data order and the augmentations."""
    checkpoint_every: int = 0
    """Also save last.pt every this many steps (0: at the end of each epoch only)."""
    eval_every: int = 1
    """Evaluate every this many epochs (and always after the last)."""
    deterministic: bool = False
    """Deterministic kernels (exact reproducibility; slower on GPUs)."""
    skip_bad_samples: bool = False
    """Skip unreadable images and mismatched masks with a warning instead of stopping."""
    device: str = "auto"
    """Where to run: auto (a CUDA GPU if there is one, else the CPU) or a device name such as cpu, cuda,
    cuda:1."""
    progress: bool = True
    """Progress bars on the main process."""

    def __post_init__(self) -> None:
        problems = [problem for name in FIELD_RULES if (problem := check_field(name, getattr(self, name)))]
        if self.min_lr > self.lr and not problems:
            problems.append(f"min_lr {self.min_lr} is above lr {self.lr}")
        if self.stop_after is not None and self.stop_after > self.epochs and not problems:
            problems.append(f"stop_after {self.stop_after} is beyond epochs {self.epochs}")
        if self.scale is not None and self.patch_size % self.scale and not problems:
            problems.append(f"patch_size {self.patch_size} is not a multiple of scale {self.scale}")
        if problems:
            raise EfficientViTError(f"invalid training settings: {'; '.join(problems)}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json_output.dumps(dataclasses.asdict(self), indent=2)

    def save(self, path: str | os.PathLike[str]) -> None:
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """The config saved in ``path``; unknown keys (from a newer version) raise a clear error."""
        try:
            values = json.loads(regular_file(path, "run config").read_text())
        except (OSError, ValueError) as err:
            raise EfficientViTError(f"{path}: cannot read the run's config ({err})") from None
        if not isinstance(values, dict):
            raise EfficientViTError(f"{path}: not a training config (expected a JSON object)")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise EfficientViTError(f"{path}: unknown config keys {sorted(unknown)}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in values and f.default is MISSING]
        if missing:
            raise EfficientViTError(f"{path}: missing config keys {missing}")
        if isinstance(values.get("crop_size"), list):
            values["crop_size"] = tuple(values["crop_size"])
        try:
            return cls(**values)
        except EfficientViTError as err:
            raise EfficientViTError(f"{path}: {err}") from None


@dataclass(frozen=True)
class Rule:
    """The values one :class:`TrainConfig` field accepts, and the words that say so in an error."""

    meaning: str
    check: Callable[[Any], bool]
    optional: bool = False
    """``None`` (the default of the task or model) is accepted too."""


def _is_number(value: Any, *, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def _within(
    low: float,
    high: float = math.inf,
    *,
    integer: bool = False,
    open_low: bool = False,
    open_high: bool = False,
    optional: bool = False,
) -> Rule:
    """A number in an interval; the rule's meaning reads like ``an integer in [1, 4096]``."""
    kind = "an integer" if integer else "a finite number"
    if high == math.inf:
        words = f"{kind} {'>' if open_low else '>='} {low:g}"
    else:
        words = f"{kind} in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"

    def check(value: Any) -> bool:
        if not _is_number(value, integer=integer):
            return False
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        return above and below

    return Rule(words, check, optional=optional)


def _one_of(*choices: str) -> Rule:
    return Rule(f"one of {', '.join(choices)}", lambda value: value in choices)


def _crop(value: Any) -> bool:
    side = _within(32, MAX_SIDE, integer=True)
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(side.check(v) for v in value)


def _device_name(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value == "auto":
        return True
    try:
        check_device_name(value)
    except EfficientViTError:
        return False
    return True


MAX_SIDE = 4096
"""Largest image side for training crops and evaluation sizes: a 4096x4096 float32 batch of 16 already takes
3 GB; larger values are typing mistakes (``--crop-size 100000`` would ask for terabytes)."""

FIELD_RULES: dict[str, Rule] = {
    "task": _one_of(*task_names(trainable=True)),
    "num_classes": _within(1, 100_000, integer=True, optional=True),
    "epochs": _within(1, 100_000, integer=True),
    "stop_after": _within(1, 100_000, integer=True, optional=True),
    "batch_size": _within(1, 65_536, integer=True),
    "eval_batch_size": _within(1, 65_536, integer=True, optional=True),
    "lr": _within(0, open_low=True),
    "min_lr": _within(0),
    "weight_decay": _within(0),
    "warmup_epochs": _within(0),
    "grad_clip": _within(0, optional=True),
    "label_smoothing": _within(0, 1, open_high=True),
    "mixup_alpha": _within(0),
    "cutmix_alpha": _within(0),
    "randaugment": Rule("true or false", lambda value: isinstance(value, bool)),
    "ema_decay": _within(0, 1, open_low=True, open_high=True, optional=True),
    "amp": _one_of(*get_args(AmpMode)),
    "resolution": _within(32, MAX_SIDE, integer=True, optional=True),
    "crop_size": Rule(f"a size HxW with sides in [32, {MAX_SIDE}]", _crop, optional=True),
    "eval_short_side": _within(32, MAX_SIDE, integer=True, optional=True),
    "scale": _within(2, 8, integer=True, optional=True),
    "patch_size": _within(8, 1024, integer=True),
    "repeat": _within(1, 10_000, integer=True),
    "workers": _within(0, 256, integer=True),
    "seed": _within(0, 2**32 - 1, integer=True),
    "checkpoint_every": _within(0, integer=True),
    "eval_every": _within(1, integer=True),
    "deterministic": Rule("true or false", lambda value: isinstance(value, bool)),
    "skip_bad_samples": Rule("true or false", lambda value: isinstance(value, bool)),
    "device": Rule("auto or a device name such as cpu, cuda, cuda:1, mps", _device_name),
    "progress": Rule("true or false", lambda value: isinstance(value, bool)),
}
"""What each checked field means; the command line's option types and ``TrainConfig`` itself both use it."""


def check_field(name: str, value: Any) -> str | None:
    """Why ``value`` is not valid for the field ``name`` (``None`` if it is)."""
    rule = FIELD_RULES[name]
    if value is None and rule.optional:
        return None
    if rule.check(value):
        return None
    return f"{name} {value!r} is not {rule.meaning}"
