"""`efficientvit train`: train or fine-tune a model on one or more processes."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from efficientvit.data.layouts import layout_names
from efficientvit.errors import EfficientViTError
from efficientvit.sizes import parse_pair
from efficientvit.tasks.registry import task_names
from efficientvit.train.config import FIELD_RULES, RESUMABLE_FIELDS, TrainConfig, check_field
from efficientvit.train.distributed import is_main_process, shutdown_distributed
from efficientvit.train.options import ConfigField, train_field, train_fields
from efficientvit.train.report import format_metrics

SHARED_OPTIONS = (
    "task", "model", "data", "dataset", "workers", "device", "skip_bad_samples", "scale", "eval_short_side",
    "progress",
)  # fmt: skip
"""The ``TrainConfig`` fields ``efficientvit eval`` takes too (:func:`add_data_arguments`), in help order."""

RUN_OPTIONS = ("output", "weights", "num_classes")
"""Train's other main options; every other field goes to the "optimisation" group, in the class's order."""

LEFT_OUT: dict[str, str] = {}
"""``TrainConfig`` fields without an option, and why (none today: every setting can be given)."""

FLAGS: dict[str, tuple[str, ...]] = {
    "model": ("--model", "-m"),
    "output": ("--output", "-o"),
    "weights": ("--weights", "-w"),
    "batch_size": ("--batch-size", "-b"),
    "mixup_alpha": ("--mixup",),
    "cutmix_alpha": ("--cutmix",),
    "ema_decay": ("--ema",),
}
"""Option strings of the fields not spelled ``--field-name`` (``--no-field-name`` for a field that is on by
default)."""

NOTES = {
    "output": " (default runs/MODEL)",
    "crop_size": "; written HxW, e.g. 512x1024, or 512 for a square",
}
"""What the command line adds to a field's help (its docstring)."""

CONVERT: dict[str, Callable[[str], Any]] = {"crop_size": parse_pair}
"""How an option's text becomes the field's value where the field's type does not say."""

CHOICES: dict[str, Callable[[], Sequence[str]]] = {
    "task": lambda: task_names(trainable=True),
    "dataset": layout_names,
}
"""The values of fields that a registry knows (``Literal`` fields take their choices from the type)."""


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


def add_field_option(
    container: argparse._ActionsContainer, field: ConfigField, *, required: bool = False
) -> None:
    """The option that sets ``field``: named after it, its help from its docstring, its value checked by its
    rule. Its default is ``None`` ("not given"), so that the dataclass's default applies and a resumed run
    knows what was asked for."""
    flags = FLAGS.get(field.name, (f"--{field.name.replace('_', '-')}",))
    text = field.help + NOTES.get(field.name, "")
    options: dict[str, Any] = {"dest": field.name, "default": None}
    if field.value_type is bool:  # a flag: the docstring names what it turns on (or off)
        if field.default is True:
            flags = FLAGS.get(field.name, (f"--no-{field.name.replace('_', '-')}",))
            options["action"], text = "store_false", f"turn off {text}"
        else:
            options["action"] = "store_true"
    elif field.name in CHOICES or field.choices:
        options["choices"] = CHOICES[field.name]() if field.name in CHOICES else field.choices
    elif field.value_type is not str:  # text fields (a path, a device name) are checked by TrainConfig
        convert = CONVERT.get(field.name, field.value_type)
        options["type"] = setting(field.name, convert) if field.rule else convert
    if required and field.required:
        options["required"] = True
    container.add_argument(*flags, help=text.replace("%", "%%"), **options)


def add_data_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--task, --model, --data, --dataset and the rest of :data:`SHARED_OPTIONS`: what is trained or evaluated
    on what (``required``: --task, --model and --data must be given)."""
    for name in SHARED_OPTIONS:
        add_field_option(parser, train_field(name), required=required)


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
    for name in RUN_OPTIONS:
        add_field_option(parser, train_field(name))
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    parser.add_argument(
        "--resume-changed-data",
        action="store_true",
        help="with --resume: continue although the dataset's files changed since the run was saved",
    )
    group = parser.add_argument_group("optimisation")
    placed = {*SHARED_OPTIONS, *RUN_OPTIONS, *LEFT_OUT}
    for field in train_fields():
        if field.name not in placed:
            add_field_option(group, field)
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
        changed.setdefault("stop_after", given.get("stop_after"))  # a stop applies to the run that asked
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
