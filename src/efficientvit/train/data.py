"""Datasets, transforms and loaders of a training run, chosen from its config and the model's metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from efficientvit.data.build import build_dataset, detect_dataset
from efficientvit.errors import EfficientViTError
from efficientvit.tasks.registry import get_task
from efficientvit.tasks.segmentation import Protocol
from efficientvit.train.config import TrainConfig
from efficientvit.train.distributed import DistributedContext
from efficientvit.train.sampler import ResumableBatchSampler, SeededDataset
from efficientvit.zoo import ModelInfo

__all__ = ["RunData", "build_eval_data", "build_run_data", "dataset_num_classes"]

BatchTransform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass
class RunData:
    """The loaders of a run and the samplers that position them."""

    train: DataLoader
    train_sampler: ResumableBatchSampler
    val: DataLoader
    val_sampler: ResumableBatchSampler
    batch_transform: BatchTransform | None
    dataset_kind: str
    num_classes: int
    class_names: list[str]


class RepeatedDataset(Dataset):
    """``dataset`` repeated ``times`` times: item ``i`` is ``dataset[i % len(dataset)]``."""

    def __init__(self, dataset: Dataset, times: int) -> None:
        self.dataset, self.times = dataset, times
        self.classes = getattr(dataset, "classes", ())

    def __len__(self) -> int:
        return len(self.dataset) * self.times  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> object:
        return self.dataset[index % len(self.dataset)]  # type: ignore[arg-type]


def dataset_num_classes(dataset: Dataset) -> int:
    """Number of classes a classification or segmentation dataset labels (0 when it has none)."""
    if hasattr(dataset, "num_classes"):
        return int(dataset.num_classes)
    return len(getattr(dataset, "classes", ()))


def _transforms(
    config: TrainConfig, info: ModelInfo, kind: str, protocol: Protocol = "efficientvit"
) -> tuple[Callable | None, Callable | None]:
    transforms = get_task(config.task).transforms
    if transforms is None:
        raise EfficientViTError(f"the {get_task(config.task).title} task is not trained here")
    return transforms(config, info, kind, protocol)


def _loader(
    dataset: Dataset, sampler: ResumableBatchSampler, config: TrainConfig, context: DistributedContext
) -> DataLoader:
    return DataLoader(
        SeededDataset(dataset),
        batch_sampler=sampler,
        num_workers=config.workers,
        pin_memory=context.device.type == "cuda",
        # Worker seeds come from this generator, not from the global RNG, which belongs to the model.
        generator=torch.Generator().manual_seed(config.seed),
    )


def _eval_batch_size(config: TrainConfig) -> int:
    return config.eval_batch_size or (config.batch_size if get_task(config.task).batched_evaluation else 1)


def _val_loader(
    config: TrainConfig, context: DistributedContext, dataset: Dataset
) -> tuple[DataLoader, ResumableBatchSampler]:
    sampler = ResumableBatchSampler(
        len(dataset),  # type: ignore[arg-type]
        batch_size=_eval_batch_size(config),
        seed=config.seed,
        shuffle=False,
        drop_last=False,
        rank=context.rank,
        world_size=context.world_size,
    )
    return _loader(dataset, sampler, config, context), sampler


def build_run_data(config: TrainConfig, info: ModelInfo, context: DistributedContext) -> RunData:
    """The training and validation loaders of ``config``."""
    kind = config.dataset or detect_dataset(config.data, config.task)
    train_tf, eval_tf = _transforms(config, info, kind)
    on_error = "skip" if config.skip_bad_samples else "raise"
    common = {"dataset": kind, "scale": config.scale, "on_error": on_error}
    train_set = build_dataset(config.task, config.data, "train", transform=train_tf, **common)
    val_set = build_dataset(config.task, config.data, "val", transform=eval_tf, **common)
    num_classes = config.num_classes or dataset_num_classes(train_set)
    if config.repeat > 1:
        train_set = RepeatedDataset(train_set, config.repeat)
    train_sampler = ResumableBatchSampler(
        len(train_set),
        batch_size=config.batch_size,
        seed=config.seed,
        shuffle=True,
        drop_last=True,
        rank=context.rank,
        world_size=context.world_size,
    )
    if len(train_sampler) == 0:
        raise EfficientViTError(
            f"{config.data}: the training split has {len(train_set)} samples, fewer than one batch of "
            f"{config.batch_size} per process; lower --batch-size"
        )
    make_batch_transform = get_task(config.task).batch_transform
    batch_transform = make_batch_transform(config, num_classes) if make_batch_transform else None
    val, val_sampler = _val_loader(config, context, val_set)
    return RunData(
        train=_loader(train_set, train_sampler, config, context),
        train_sampler=train_sampler,
        val=val,
        val_sampler=val_sampler,
        batch_transform=batch_transform,
        dataset_kind=kind,
        num_classes=num_classes,
        class_names=[str(name) for name in getattr(train_set, "classes", ())],
    )


def build_eval_data(
    config: TrainConfig,
    info: ModelInfo,
    context: DistributedContext,
    split: str = "val",
    *,
    protocol: Protocol = "efficientvit",
) -> tuple[DataLoader, ResumableBatchSampler, Dataset]:
    """The evaluation loader of ``split`` alone (for `efficientvit eval`); ``protocol`` chooses the
    segmentation input size and resize (:mod:`efficientvit.tasks.segmentation`)."""
    kind = config.dataset or detect_dataset(config.data, config.task)
    _, eval_tf = _transforms(config, info, kind, protocol)
    on_error = "skip" if config.skip_bad_samples else "raise"
    dataset = build_dataset(
        config.task,
        config.data,
        split,
        dataset=kind,
        transform=eval_tf,
        scale=config.scale,
        on_error=on_error,
    )
    loader, sampler = _val_loader(config, context, dataset)
    return loader, sampler, dataset
