"""The one typed configuration of a training run; it is saved beside the run as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from efficientvit.errors import EfficientViTError

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. ``None`` means "the task's or model's default"."""

    task: Literal["cls", "seg", "sr"]
    model: str
    data: str
    """Dataset root (ImageNet-style folders, Cityscapes, ADE20K, a custom segmentation folder, HR images)."""
    output: str
    """Run directory: config.json, metrics.jsonl, last.pt, best.pt."""
    dataset: str | None = None
    """Dataset layout; detected from ``data`` when ``None``."""
    weights: str | None = None
    """Initial weights (fine-tuning): a file, hf://..., or "official"; mismatched head weights are skipped."""
    num_classes: int | None = None
    """Replace the model's classifier with one of this many classes (default: the dataset's count)."""
    epochs: int = 10
    batch_size: int = 16
    """Per process; the global batch is ``batch_size * world_size``."""
    eval_batch_size: int | None = None
    """Default: ``batch_size`` for classification, 1 for segmentation and super-resolution (sizes vary)."""
    lr: float = 1e-3
    """Peak learning rate of AdamW."""
    min_lr: float = 0.0
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    grad_clip: float | None = 2.0
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    randaugment: bool = True
    ema_decay: float | None = None
    """Evaluate and keep an exponential moving average of the weights (e.g. 0.9998)."""
    amp: Literal["auto", "none", "bf16", "fp16"] = "auto"
    """"auto": bf16 on CUDA, full float32 elsewhere."""
    resolution: int | None = None
    """Classification input size (default: the model's)."""
    crop_size: tuple[int, int] | None = None
    """Segmentation training crop (default: the shorter side of the model's resolution, squared)."""
    eval_short_side: int | None = None
    """Segmentation evaluation: resize the shorter side to this (default: ADE20K 512, others unchanged)."""
    scale: int = 2
    """Super-resolution factor."""
    patch_size: int = 96
    """Super-resolution training patch, in high-resolution pixels."""
    repeat: int = 1
    """Visit every training sample this many times per epoch (with fresh augmentation each time): useful when
    a dataset has a few large images, as in super-resolution."""
    workers: int = 2
    seed: int = 0
    checkpoint_every: int = 0
    """Also save last.pt every this many steps (0: at the end of each epoch only)."""
    eval_every: int = 1
    """Evaluate every this many epochs (and always after the last)."""
    deterministic: bool = False
    """Deterministic kernels (exact reproducibility; slower on GPUs)."""
    skip_bad_samples: bool = False
    """Skip unreadable images and mismatched masks with a warning instead of stopping."""
    device: str = "auto"
    progress: bool = True

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """The config saved in ``path``; unknown keys (from a newer version) raise a clear error."""
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise EfficientViTError(f"{path}: cannot read the run's config ({err})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise EfficientViTError(f"{path}: unknown config keys {sorted(unknown)}")
        if values.get("crop_size") is not None:
            values["crop_size"] = tuple(values["crop_size"])
        return cls(**values)
