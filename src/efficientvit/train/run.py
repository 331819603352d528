"""A whole training run: set-up, the epoch loop, evaluation, checkpoints, logs and exact resume.

The run directory holds:

* ``config.json`` — the resolved :class:`~efficientvit.train.config.TrainConfig`;
* ``metrics.jsonl`` — one JSON object per finished epoch (training loss, learning rate, throughput, and the
  evaluation metrics when evaluated);
* ``last.pt`` — everything needed to continue (model, optimiser, EMA, loss scaler, RNG states, the position
  in the epoch), written atomically every ``checkpoint_every`` steps and at the end of every epoch;
* ``best.pt`` — the evaluated weights (the EMA when enabled) with the best primary metric, loadable with
  ``create_model(name, weights="RUN/best.pt")`` or ``--weights RUN/best.pt``.

Both checkpoints carry, under ``"pretrained"``, the ``config.json`` dict of ``save_pretrained`` (model name,
overrides such as ``num_classes``, the dataset's class names, a segmenter's palette), so a fine-tuned model
loads with its own class count and names.

Only rank 0 writes. A resumed run restores everything in ``last.pt`` and continues with the batch after the
last one saved, so that (on CPU, with deterministic kernels) its final weights equal those of a run that was
never interrupted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from efficientvit import json_output
from efficientvit.atomic import atomic_write_text
from efficientvit.errors import EfficientViTError
from efficientvit.pretrained import pretrained_config
from efficientvit.tasks.registry import get_task, require_task
from efficientvit.train.checkpoint import (
    FORMAT,
    atomic_save,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
)
from efficientvit.train.config import RESUMABLE_FIELDS, TrainConfig
from efficientvit.train.data import RunData, build_run_data
from efficientvit.train.distributed import DistributedContext, all_reduce_sum, init_distributed
from efficientvit.train.ema import ModelEma
from efficientvit.train.finetune import LoadReport, load_pretrained
from efficientvit.train.fingerprint import config_differences, data_differences, dataset_fingerprint
from efficientvit.train.loop import Position, evaluate, train_one_epoch
from efficientvit.train.optim import build_optimizer, cosine_lr
from efficientvit.train.tasks import TaskSpec, build_task
from efficientvit.zoo import ModelInfo, create_model, get_model_info

__all__ = ["RunResult", "amp_dtype", "build_training_model", "fit"]

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class RunResult:
    """What a finished run reports."""

    output: Path
    epochs: int
    """Epochs completed (fewer than the config's ``epochs`` after a ``stop_after``)."""
    steps: int
    metrics: dict[str, Any] = field(default_factory=dict)
    """The evaluation metrics after the last epoch."""
    best: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    load_report: LoadReport | None = None
    class_names: list[str] = field(default_factory=list)


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``config.amp`` ("auto": bf16 on CUDA, none elsewhere)."""
    if config.amp == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return AMP_DTYPES[config.amp]


def configure_determinism(config: TrainConfig) -> None:
    if config.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True


def checked_model_info(config: TrainConfig) -> ModelInfo:
    """The registry entry of ``config.model``, checked to do ``config.task``."""
    return require_task(get_model_info(config.model), config.task)


def with_model_scale(config: TrainConfig, info: ModelInfo) -> TrainConfig:
    """``config`` with its super-resolution factor filled in: the model's own when not given (the other
    tasks have none)."""
    if config.scale is not None or info.scale == 1:
        return config
    return config.replace(scale=info.scale)


def build_training_model(
    config: TrainConfig,
    num_classes: int | None,
    class_names: Sequence[str] = (),
    dataset_kind: str | None = None,
) -> tuple[nn.Module, ModelInfo, LoadReport | None]:
    """The model of ``config`` (with a new classifier if the class count differs) and its initial weights.

    The model's ``info`` takes the dataset's ``class_names`` (so that the run's checkpoints carry them),
    unless the data is the model's own dataset (``dataset_kind``) with its class count: ImageNet's folder
    names are WordNet ids, and the registry already has the readable names.
    """
    info = checked_model_info(config)
    overrides: dict[str, Any] = {}
    labels_classes = get_task(config.task).labels_classes
    if num_classes and labels_classes and num_classes != info.num_classes:
        overrides["num_classes"] = num_classes
    if info.scale > 1 and info.scale != config.scale:  # a super-resolution model for another factor
        overrides["scale"] = config.scale
    own_classes = dataset_kind == info.dataset and "num_classes" not in overrides and info.class_names
    count = overrides.get("num_classes") or info.num_classes
    named = labels_classes and len(class_names) == count and not own_classes
    names = list(class_names) if named else None
    model = create_model(config.model, class_names=names, **overrides)
    report = None
    if config.weights:
        report = load_pretrained(
            model, config.weights, model_name=config.model, default_checkpoint=info.checkpoint
        )
    return model, model.info, report  # type: ignore[return-value]


def _log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as file:
        file.write(json_output.dumps(record) + "\n")


def _history(path: Path, before_epoch: int) -> list[dict[str, Any]]:
    """The log records of epochs before ``before_epoch``; the file is rewritten without later ones (a run
    killed after logging an epoch but before checkpointing it logs that epoch again when resumed)."""
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in records if r.get("epoch", 0) <= before_epoch]
    atomic_write_text(path, "".join(json_output.dumps(r) + "\n" for r in kept))
    return kept


def _check_output(config: TrainConfig, resume: bool) -> Path:
    """The run directory, checked to hold a run to resume, or none to overwrite."""
    output = Path(config.output)
    last = output / "last.pt"
    if resume:
        if not last.exists():
            raise EfficientViTError(f"--resume: {last} does not exist; start the run without --resume")
    elif last.exists():
        raise EfficientViTError(
            f"{output} already holds a run; continue it with --resume {output} or choose another --output"
        )
    return output


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def fit(config: TrainConfig, *, resume: bool = False, allow_changed_data: bool = False) -> RunResult:
    """Train ``config`` to the end (or continue its run directory with ``resume=True``).

    A resumed run refuses, naming the difference, when its ``config.json`` no longer matches the saved
    checkpoint (beyond :data:`RESUMABLE_FIELDS`) or its dataset's files changed (unless
    ``allow_changed_data``).
    """
    info = checked_model_info(config)
    config = with_model_scale(config, info)
    context = init_distributed(config.device)
    configure_determinism(config)
    torch.manual_seed(config.seed + context.rank)
    output = _check_output(config, resume)
    log_path = output / "metrics.jsonl"
    show = config.progress and context.is_main

    data: RunData = build_run_data(config, info, context)
    fingerprints = {
        part: dataset_fingerprint(loader.dataset, config.data)
        for part, loader in (("train", data.train), ("val", data.val))
    }
    model, info, report = build_training_model(config, data.num_classes, data.class_names, data.dataset_kind)
    if context.is_main:  # written once the data and the model are known to be usable
        output.mkdir(parents=True, exist_ok=True)
        config.save(output / "config.json")
    if report is not None and context.is_main:
        print(f"weights {config.weights}: {report.summary()}")
    metadata = pretrained_config(info)  # what create_model(name, weights=RUN/best.pt) rebuilds the model from
    model = model.to(context.device).train()
    task: TaskSpec = build_task(
        config.task,
        num_classes=data.num_classes or info.num_classes,
        label_smoothing=config.label_smoothing,
        scale=config.scale,
    )
    dtype = amp_dtype(config, context.device)
    optimizer = build_optimizer(model, lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(context.device.type) if dtype == torch.float16 else None
    ema = ModelEma(model, config.ema_decay) if config.ema_decay else None
    steps_per_epoch = len(data.train_sampler)
    total_steps = config.epochs * steps_per_epoch
    warmup = round(config.warmup_epochs * steps_per_epoch)

    def lr_at(step: int) -> float:
        return cosine_lr(
            step, base_lr=config.lr, total_steps=total_steps, warmup_steps=warmup, min_lr=config.min_lr
        )

    position = Position()
    best: dict[str, Any] = {}
    if resume:
        state = load_checkpoint(output / "last.pt")
        _check_resumable(state, config, fingerprints, output, allow_changed_data=allow_changed_data)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        position = Position(**state["position"])
        best = state.get("best", {})
        restore_rng_state(state["rng"][min(context.rank, len(state["rng"]) - 1)])
    history = _history(log_path, position.epoch) if context.is_main else []

    train_model: nn.Module = model
    if context.distributed:
        device_ids = [context.device] if context.device.type == "cuda" else None
        train_model = DistributedDataParallel(model, device_ids=device_ids)

    def save_last(pos: Position) -> None:
        rng = _gather_rng_states(context)
        if not context.is_main:
            return
        atomic_save(
            {
                "format": FORMAT,
                "model_name": config.model,
                "pretrained": metadata,
                "config": json.loads(config.to_json()),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "scaler": scaler.state_dict() if scaler is not None else None,
                "position": vars(pos).copy(),
                "best": best,
                "rng": rng,
                "data": fingerprints,
            },
            output / "last.pt",
        )

    def after_step(pos: Position) -> None:
        if (
            config.checkpoint_every
            and pos.step % config.checkpoint_every == 0
            and pos.batch < steps_per_epoch
        ):
            save_last(pos)

    metrics: dict[str, Any] = {}
    last_epoch = config.stop_after or config.epochs
    for epoch in range(position.epoch, last_epoch):
        data.train_sampler.set_epoch(epoch, start_batch=position.batch)
        started = time.perf_counter()
        samples_before = position.samples
        train_one_epoch(
            train_model, data.train, optimizer, task, position,
            device=context.device, lr_at=lr_at, num_batches=steps_per_epoch, amp_dtype=dtype,
            scaler=scaler, grad_clip=config.grad_clip, ema=ema, batch_transform=data.batch_transform,
            after_step=after_step, progress=show,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        loss = _mean_loss(position, context)
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": position.step,
            "train_loss": loss,
            "lr": optimizer.param_groups[0]["lr"],
            "images_per_s": (position.samples - samples_before) * context.world_size / max(elapsed, 1e-9),
        }
        if (epoch + 1) % config.eval_every == 0 or epoch + 1 == last_epoch:
            evaluated = ema.module if ema is not None else model
            metrics = evaluate(
                evaluated, data.val, task, device=context.device, amp_dtype=dtype,
                num_batches=len(data.val_sampler), progress=show,
            )  # fmt: skip
            record["eval"] = metrics
            score = float(metrics[task.primary_metric])
            if not best or score > best["score"]:
                best = {"score": score, "metric": task.primary_metric, "epoch": epoch + 1}
                if context.is_main:
                    atomic_save(
                        {"format": FORMAT, "model_name": config.model, "pretrained": metadata,
                         "model": evaluated.state_dict(), "metrics": metrics, "epoch": epoch + 1,
                         "config": json.loads(config.to_json())},
                        output / "best.pt",
                    )  # fmt: skip
        position = Position(epoch=epoch + 1, step=position.step)
        save_last(position)
        if context.is_main:
            _log(log_path, record)
            history.append(record)
    return RunResult(output, position.epoch, position.step, metrics, best, history, report, data.class_names)


def _check_resumable(
    state: dict[str, Any],
    config: TrainConfig,
    fingerprints: dict[str, Any],
    output: Path,
    *,
    allow_changed_data: bool,
) -> None:
    """Raise one line if the run's recipe or its data differ from what ``last.pt`` was saved with."""
    if isinstance(state.get("config"), dict):
        changed = list(config_differences(state["config"], json.loads(config.to_json()), RESUMABLE_FIELDS))
        if changed:
            raise EfficientViTError(
                f"{output / 'config.json'} differs from the run's last.pt in {', '.join(changed)}; restore "
                "it, or start a new run for a new recipe"
            )
    saved = state.get("data") if isinstance(state.get("data"), dict) else {}
    for part, now in fingerprints.items():
        difference = data_differences(saved.get(part), now)
        if difference and not allow_changed_data:
            raise EfficientViTError(
                f"--resume {output}: the {part} data in {config.data} changed since the run was saved "
                f"({difference}); resume with the data it was trained on, or pass --resume-changed-data"
            )


def _mean_loss(position: Position, context: DistributedContext) -> float:
    sums = all_reduce_sum(torch.tensor([position.loss_sum, float(position.samples)], dtype=torch.float64))
    return float(sums[0] / max(float(sums[1]), 1.0))


def _gather_rng_states(context: DistributedContext) -> list[dict[str, Any]]:
    """Every rank's RNG state, gathered on all ranks (so a resumed rank r restores rank r's state)."""
    state = capture_rng_state()
    if not context.distributed:
        return [state]
    states: list[Any] = [None] * context.world_size
    dist.all_gather_object(states, state)
    return states
