"""`efficientvit train`: train or fine-tune a model on one or more processes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from efficientvit.data.layouts import layout_names
from efficientvit.errors import EfficientViTError
from efficientvit.sizes import parse_pair
from efficientvit.train.config import FIELD_RULES, RESUMABLE_FIELDS, TrainConfig, check_field
from efficientvit.train.distributed import is_main_process, shutdown_distributed
from efficientvit.train.report import format_metrics


def _size(text: str) -> tuple[int, int]:
    """``512`` or ``512x1024`` (height x width)."""
    return parse_pair(text)


def setting(name: str, convert: Callable[[str], Any] = int) -> Callable[[str], Any]:
    """argparse type of the ``TrainConfig`` field ``name``: ``convert`` the text, then check the field's rule,
    so that a bad value stops argparse (exit status 2) with the rule in words."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or check_field(name, value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {FIELD_RULES[name].meaning}")
        return value

    return parse


def add_data_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--task, --model, --data, --dataset: what is trained or evaluated on what."""
    parser.add_argument("--task", choices=("cls", "seg", "sr"), required=required, help="the task")
    parser.add_argument(
        "--model", "-m", required=required, help="registered model name (`efficientvit models`)"
    )
    parser.add_argument("--data", required=required, help="dataset root folder")
    parser.add_argument(
        "--dataset",
        choices=layout_names(),
        default=None,
        help="dataset layout (default: detected from the root)",
    )
    parser.add_argument(
        "--workers", type=setting("workers"), default=None, help="data-loading processes (default 2)"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument(
        "--skip-bad-samples",
        action="store_true",
        default=None,
        help="skip unreadable images and mismatched masks with a warning instead of stopping",
    )
    parser.add_argument(
        "--scale", type=setting("scale"), default=None, help="super-resolution factor (default 2)"
    )
    parser.add_argument(
        "--eval-short-side", type=setting("eval_short_side"), default=None,
        help="segmentation evaluation: resize the shorter side to this (default: ADE20K 512, others as is)",
    )  # fmt: skip
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command."""
    parser = subparsers.add_parser(
        "train",
        help="train or fine-tune a model (one process, or many with torchrun)",
        description="Train --model on --data and write the run to --output: config.json, metrics.jsonl, "
        "last.pt (resumable) and best.pt. Many processes: "
        "torchrun --nproc_per_node N -m efficientvit train ...",
    )
    add_data_arguments(parser, required=False)
    parser.add_argument("--output", "-o", help="run directory (default runs/MODEL)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    parser.add_argument(
        "--resume-changed-data",
        action="store_true",
        help="with --resume: continue although the dataset's files changed since the run was saved",
    )
    parser.add_argument(
        "--weights", "-w", help="initial weights to fine-tune: a file, hf://..., or 'official'"
    )
    parser.add_argument(
        "--num-classes", type=setting("num_classes"), help="new classifier size (default: the dataset's)"
    )
    group = parser.add_argument_group("optimisation")
    group.add_argument("--epochs", type=setting("epochs"))
    group.add_argument("--batch-size", "-b", type=setting("batch_size"), help="per process (default 16)")
    group.add_argument("--eval-batch-size", type=setting("eval_batch_size"))
    group.add_argument("--lr", type=setting("lr", float), help="peak AdamW learning rate (default 1e-3)")
    group.add_argument("--min-lr", type=setting("min_lr", float))
    group.add_argument(
        "--weight-decay", type=setting("weight_decay", float), help="default 0.05; never on norms and biases"
    )
    group.add_argument(
        "--warmup-epochs",
        type=setting("warmup_epochs", float),
        help="linear warm-up before the cosine decay (default 1)",
    )
    group.add_argument(
        "--grad-clip",
        type=setting("grad_clip", float),
        help="clip the gradient norm (default 2.0; 0 turns it off)",
    )
    group.add_argument("--label-smoothing", type=setting("label_smoothing", float))
    group.add_argument(
        "--mixup", dest="mixup_alpha", type=setting("mixup_alpha", float), help="MixUp alpha (classification)"
    )
    group.add_argument(
        "--cutmix",
        dest="cutmix_alpha",
        type=setting("cutmix_alpha", float),
        help="CutMix alpha (classification)",
    )
    group.add_argument("--no-randaugment", dest="randaugment", action="store_false", default=None)
    group.add_argument(
        "--ema",
        dest="ema_decay",
        type=setting("ema_decay", float),
        help="keep and evaluate an EMA, e.g. 0.9998",
    )
    group.add_argument("--amp", choices=("auto", "none", "bf16", "fp16"), help="default: bf16 on CUDA")
    group.add_argument("--resolution", type=setting("resolution"), help="classification input size")
    group.add_argument(
        "--crop-size",
        type=setting("crop_size", _size),
        help="segmentation training crop, e.g. 512 or 512x1024",
    )
    group.add_argument(
        "--patch-size", type=setting("patch_size"), help="super-resolution HR training patch (96)"
    )
    group.add_argument(
        "--repeat", type=setting("repeat"), help="visit each training sample N times per epoch"
    )
    group.add_argument("--seed", type=setting("seed"))
    group.add_argument(
        "--checkpoint-every", type=setting("checkpoint_every"), help="also save last.pt every N steps"
    )
    group.add_argument("--eval-every", type=setting("eval_every"), help="evaluate every N epochs (default 1)")
    group.add_argument("--deterministic", action="store_true", default=None, help="deterministic kernels")
    parser.set_defaults(run=run)


def _given(args: argparse.Namespace) -> dict:
    """The TrainConfig fields set on the command line."""
    names = TrainConfig.__dataclass_fields__
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, bool]:
    """The run's config and whether it resumes."""
    given = _given(args)
    if args.resume:
        config = TrainConfig.load(Path(args.resume) / "config.json")
        changed = {k: v for k, v in given.items() if getattr(config, k) != v}
        refused = sorted(set(changed) - set(RESUMABLE_FIELDS))
        if refused:
            resumable = [name for name in RESUMABLE_FIELDS if name != "output"]
            raise EfficientViTError(
                f"--resume continues the saved config; these settings cannot change: {', '.join(refused)} "
                f"(only {', '.join(resumable)} can)"
            )
        changed.pop("output", None)
        return config.replace(output=str(args.resume), **changed), True
    missing = [f"--{name}" for name in ("task", "model", "data") if name not in given]
    if missing:
        raise EfficientViTError(f"train needs {', '.join(missing)} (or --resume RUN_DIR)")
    if given.get("grad_clip") == 0:
        given["grad_clip"] = None
    given.setdefault("output", str(Path("runs") / given["model"]))
    return TrainConfig(**given), False


def run(args: argparse.Namespace) -> int:
    """Train, then print the final evaluation table."""
    from efficientvit.train.run import fit

    config, resume = config_from_args(args)
    try:
        result = fit(config, resume=resume, allow_changed_data=args.resume_changed_data)
    finally:
        shutdown_distributed()
    if is_main_process():
        print(f"run: {result.output}  ({result.epochs} epochs, {result.steps} steps)")
        if result.best:
            print(f"best {result.best['metric']}: {result.best['score']:.2f} at epoch {result.best['epoch']}")
        if result.metrics:
            print(format_metrics(config.task, result.metrics, result.class_names))
    return 0
