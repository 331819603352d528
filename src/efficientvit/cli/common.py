"""Helpers shared by the CLI commands: argument types, model loading (prepared by efficientvit.runtime, or
an exported file in ONNX Runtime), device checks and progress bars."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from tqdm import tqdm

from efficientvit.data.images import read_image
from efficientvit.devices import parse_device
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.runtime import BACKENDS, onnxruntime_providers, runner_for
from efficientvit.tasks.registry import get_task, require_task
from efficientvit.zoo import create_model, get_model_info

if TYPE_CHECKING:
    pass


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def unit_float(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not in [0, 1]")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The --model, --weights and --device options every inference command takes."""
    parser.add_argument(
        "--model", "-m", required=True, help="registered model name (see `efficientvit models`)"
    )
    parser.add_argument(
        "--weights",
        "-w",
        default="official",
        help="checkpoint: a local .pt/.pth/.safetensors file (official or timm's layout; a training run's "
        "best.pt brings its own class count and names), a folder written by save_pretrained, "
        "hf://OWNER/REPO/FILE, hf://OWNER/REPO (its model.safetensors, e.g. "
        "hf://timm/efficientvit_b1.r224_in1k), or 'official' "
        "(the model's official checkpoint from the Hugging Face hub; default)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to run on, e.g. cpu, cuda, cuda:1 (default cpu)"
    )


def load_model(name: str, weights: str, device: str, task: str) -> nn.Module:
    """The model ``name`` with ``weights`` on ``device``, after checking it does ``task``."""
    require_task(get_model_info(name), task)
    target = parse_device(device)
    return create_model(name, weights=weights).to(target)


def check_stems(paths: Sequence[Path]) -> None:
    """Refuse inputs whose outputs would overwrite each other (same file stem)."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise EfficientViTError(
                f"{seen[path.stem]} and {path} would both write {path.stem}_*.png; rename one of them"
            )
        seen[path.stem] = path


def progress(items: Sized, unit: str) -> tqdm:
    """A progress bar on stderr over ``len(items)`` steps, shown only for more than one item on a terminal."""
    return tqdm(total=len(items), unit=unit, disable=True if len(items) <= 1 else None, dynamic_ncols=True)


class UnreadableImages:
    """Images a command could not read: each is named on stderr in one line when met, the other images are
    still processed, and the command exits with status 1 at the end (nothing of the good ones is lost)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def read(self, path: Path) -> torch.Tensor | None:
        """The uint8 (3, H, W) image at ``path``, or ``None`` after naming why it cannot be read."""
        try:
            return read_image(path)
        except EfficientViTError as err:  # the message names the file and the problem
            tqdm.write(f"efficientvit: error: {one_line(err)}", file=sys.stderr)
            self.paths.append(path)
            return None

    @property
    def exit_code(self) -> int:
        return 1 if self.paths else 0


def add_backend_arguments(parser: argparse.ArgumentParser, *, onnx_file: bool = True) -> None:
    """The --backend option (and --onnx, for the commands that can run an exported file)."""
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        default="auto",
        help="how to run the model: auto (default: the fastest exact way on this device; on a CPU our "
        "ONNX export in ONNX Runtime, exported once into the cache), eager, fused, compile, onnxruntime",
    )
    if onnx_file:
        parser.add_argument(
            "--onnx",
            type=Path,
            default=None,
            metavar="FILE",
            help="run a file from `efficientvit export` in ONNX Runtime (it holds its own weights; "
            "--weights is not read)",
        )


def load_backend_model(args: argparse.Namespace, task: str) -> nn.Module:
    """The model of ``args`` (``--model``, ``--weights``, ``--device``, ``--backend``, ``--onnx``) for
    ``task``, prepared for ``--backend`` now (an export or a compile says so on stderr), so that a problem
    shows before any output is written: the PyTorch model, or with ``--onnx`` an ``OnnxRuntimeModel`` that
    the inference functions accept in its place.

    A dynamic segmenter graph also serves images that ``segment`` resizes below its smallest traced side
    (``export_onnx``'s bound, which ONNX Runtime does not enforce): there the graph's linear attention equals
    the quadratic form PyTorch switches to, so no padding is needed (tests/cli/test_backend.py compares the
    label maps at such a size)."""
    onnx_file = getattr(args, "onnx", None)
    if onnx_file is None:
        model = load_model(args.model, args.weights, args.device, task)
        for graph in get_task(task).graphs:
            runner_for(model, graph, args.backend).prepare()
        return model
    if args.backend not in ("auto", "onnxruntime"):
        raise EfficientViTError(
            "--onnx FILE runs in ONNX Runtime: use --backend onnxruntime (or auto), or drop --onnx"
        )
    from efficientvit.export import OnnxRuntimeModel

    info = require_task(get_model_info(args.model), task)
    runtime = OnnxRuntimeModel(onnx_file, providers=onnxruntime_providers(parse_device(args.device)))
    runtime.check_serves(info)
    return runtime
