"""The training loop as two plain functions: :func:`train_one_epoch` and :func:`evaluate`.

Task differences come in through a :class:`~efficientvit.train.tasks.TaskSpec`; checkpointing, logging and
resuming live in :mod:`efficientvit.train.run`, which calls these.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm import tqdm

from efficientvit.errors import EfficientViTError
from efficientvit.runtime import runner_for
from efficientvit.tasks.registry import get_task
from efficientvit.train.distributed import all_reduce_sum
from efficientvit.train.ema import ModelEma
from efficientvit.train.optim import set_lr
from efficientvit.train.tasks import TaskSpec

__all__ = ["Position", "autocast", "evaluate", "train_one_epoch"]

Batch = tuple[Tensor, Tensor]


@dataclass
class Position:
    """Where a run is: the epoch, the batches done in it, the optimiser steps done in all, and the running
    sums of the epoch's training loss (kept so that a resumed epoch reports the same mean loss)."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    samples: int = 0


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision in ``dtype`` (bf16/fp16) or a no-op; LiteMLA keeps its attention in float32 itself."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _to(batch: Batch, device: torch.device) -> Batch:
    inputs, target = batch
    return inputs.to(device, non_blocking=True), target.to(device, non_blocking=True)


def train_one_epoch(
    model: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    task: TaskSpec,
    position: Position,
    *,
    device: torch.device,
    lr_at: Callable[[int], float],
    num_batches: int,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    grad_clip: float | None = None,
    ema: ModelEma | None = None,
    batch_transform: Callable[[Tensor, Tensor], Batch] | None = None,
    after_step: Callable[[Position], None] | None = None,
    progress: bool = True,
) -> None:
    """Train over ``batches`` (the rest of epoch ``position.epoch``), updating ``position`` after each step.

    ``after_step(position)`` runs after every optimiser step (the run uses it to write mid-epoch
    checkpoints). A non-finite loss stops training with an error that names the step.
    """
    model.train()
    bar = tqdm(
        total=num_batches,
        initial=position.batch,
        desc=f"epoch {position.epoch + 1} train",
        unit="batch",
        disable=not progress,
        dynamic_ncols=True,
    )
    started, seen = time.perf_counter(), 0
    for batch in batches:
        inputs, target = _to(batch, device)
        if batch_transform is not None:
            inputs, target = batch_transform(inputs, target)
        set_lr(optimizer, lr_at(position.step))
        with autocast(device, amp_dtype):
            loss = task.loss(model(inputs), target)
        if not math.isfinite(loss.item()):
            raise EfficientViTError(
                f"the training loss became {loss.item()} at epoch {position.epoch + 1}, "
                f"step {position.step}; "
                "lower the learning rate (--lr) or enable gradient clipping (--grad-clip)"
            )
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if ema is not None:
            ema.update(model, position.step)
        position.batch += 1
        position.step += 1
        position.loss_sum += loss.item() * len(inputs)
        position.samples += len(inputs)
        seen += len(inputs)
        bar.update()
        bar.set_postfix(
            loss=f"{position.loss_sum / position.samples:.4f}",
            lr=f"{optimizer.param_groups[0]['lr']:.2e}",
            img_s=f"{seen / (time.perf_counter() - started):.1f}",
        )
        if after_step is not None:
            after_step(position)
    bar.close()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    task: TaskSpec,
    *,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
    num_batches: int | None = None,
    progress: bool = True,
    backend: str | None = "eager",
) -> dict[str, float | list[float]]:
    """The task's metrics over ``batches`` (this process's shard), summed across processes.

    ``backend`` runs the model through :func:`efficientvit.runtime.runner_for` (``"eager"`` by default:
    during training the weights change every epoch, and an export per evaluation would cost more than it
    saves; ``efficientvit.train.evaluation.evaluate_weights`` passes ``"auto"``).
    """
    was_training = model.training
    model.eval()
    run = model if backend == "eager" else runner_for(model, get_task(task.name).graphs[0], backend)
    total: Tensor | None = None
    for batch in tqdm(batches, total=num_batches, desc="eval", unit="batch", disable=not progress):
        inputs, target = _to(batch, device)
        with autocast(device, amp_dtype):
            prediction = task.predict(run, inputs, target)
        stats = task.batch_stats(prediction, inputs, target)
        total = stats if total is None else total + stats
    if total is None:
        raise EfficientViTError("the evaluation split is empty")
    model.train(was_training)
    return task.summarize(all_reduce_sum(total).cpu())
