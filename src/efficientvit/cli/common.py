"""Helpers shared by the CLI commands: argument types, model loading (PyTorch, or ONNX Runtime with its
export cache), device checks and progress bars."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sized
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from tqdm import tqdm

from efficientvit.errors import EfficientViTError
from efficientvit.inference.preprocess import require_task
from efficientvit.zoo import ModelInfo, create_model, get_model_info

if TYPE_CHECKING:
    from efficientvit.export import OnnxRuntimeModel


def one_line(text: object) -> str:
    """``text`` with all runs of whitespace, newlines included, collapsed to single spaces."""
    return " ".join(str(text).split())


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
        help="checkpoint: a local .pt/.pth/.safetensors file, hf://OWNER/REPO/FILE, or 'official' "
        "(the model's official checkpoint from the Hugging Face hub; default)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to run on, e.g. cpu, cuda, cuda:1 (default cpu)"
    )


def parse_device(text: str) -> torch.device:
    """The torch device named ``text``, checked to exist on this machine."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise EfficientViTError(
            f"--device {text!r} is not a device name (e.g. cpu, cuda, cuda:1, mps)"
        ) from None
    try:
        torch.empty(0, device=device)
    except Exception as err:  # not compiled with CUDA, no such GPU index, ...: all mean the same to the user
        raise EfficientViTError(f"--device {text}: not available on this machine ({one_line(err)})") from None
    return device


def load_model(name: str, weights: str, device: str, task: str) -> nn.Module:
    """The model ``name`` with ``weights`` on ``device``, after checking it does ``task``."""
    require_task(get_model_info(name), task)
    target = parse_device(device)
    return create_model(name, weights=weights).to(target)


def progress(items: Sized, unit: str) -> tqdm:
    """A progress bar on stderr over ``len(items)`` steps, shown only for more than one item on a terminal."""
    return tqdm(total=len(items), unit=unit, disable=True if len(items) <= 1 else None, dynamic_ncols=True)


BACKENDS = ("pytorch", "onnxruntime")
_GRAPHS = {"cls": "classifier", "seg": "segmenter"}


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """The --backend and --onnx options of the commands that can run their model in ONNX Runtime."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="run the model in PyTorch (default) or in ONNX Runtime (the default with --onnx)",
    )
    parser.add_argument(
        "--onnx",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --backend onnxruntime: a file from `efficientvit export` (it holds its own weights; "
        "--weights is not read); without it the first run exports --model/--weights once into "
        "~/.cache/efficientvit/onnx/",
    )


def load_backend_model(args: argparse.Namespace, task: str) -> nn.Module:
    """The model of ``args`` (``--model``, ``--weights``, ``--device``, ``--backend``, ``--onnx``) for
    ``task`` (``cls`` or ``seg``): the PyTorch model, or an ``OnnxRuntimeModel`` that the inference functions
    accept in its place.

    A dynamic segmenter graph also serves images that ``segment`` resizes below its smallest traced side
    (``export_onnx``'s bound, which ONNX Runtime does not enforce): there the graph's linear attention equals
    the quadratic form PyTorch switches to, so no padding is needed (tests/cli/test_backend.py compares the
    label maps at such a size)."""
    backend = args.backend or ("onnxruntime" if args.onnx is not None else "pytorch")
    if backend == "pytorch":
        if args.onnx is not None:
            raise EfficientViTError(
                "--onnx FILE runs in ONNX Runtime: use --backend onnxruntime or drop --onnx"
            )
        return load_model(args.model, args.weights, args.device, task)
    from efficientvit.export import OnnxRuntimeModel

    info = require_task(get_model_info(args.model), task)
    providers = onnxruntime_providers(args.device)
    path = args.onnx if args.onnx is not None else cached_onnx(info, args.weights)
    runtime = OnnxRuntimeModel(path, providers=providers)
    check_onnx_model(runtime, info)
    return runtime


def onnxruntime_providers(device: str) -> list[str]:
    """ONNX Runtime's execution providers for ``--device`` (cpu, or cuda with onnxruntime-gpu)."""
    try:
        target = torch.device(device)
    except RuntimeError:
        raise EfficientViTError(f"--device {device!r} is not a device name (e.g. cpu, cuda)") from None
    if target.type == "cpu":
        return ["CPUExecutionProvider"]
    if target.type != "cuda" or target.index not in (None, 0):
        raise EfficientViTError(f"--backend onnxruntime runs on --device cpu or cuda, not {device}")
    try:
        import onnxruntime
    except ImportError:
        raise EfficientViTError(
            "--backend onnxruntime needs ONNX Runtime: pip install onnxruntime-gpu"
        ) from None
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise EfficientViTError(
            "--device cuda with --backend onnxruntime needs ONNX Runtime's CUDA provider: "
            "pip install onnxruntime-gpu, or use --device cpu"
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def onnx_cache_dir() -> Path:
    """Where exported models are cached: ``$XDG_CACHE_HOME/efficientvit/onnx`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "efficientvit" / "onnx"


def onnx_cache_name(info: ModelInfo, weights: Path) -> str:
    """The cache file name of ``info``'s model with the checkpoint ``weights``: the model name and a hash of
    the checkpoint's path, modification time and size, and of the package and torch versions (any of them
    changing means a new export)."""
    from efficientvit import __version__

    stat = weights.stat()
    key = {
        "model": info.name,
        "weights": str(weights.resolve()),
        "mtime_ns": stat.st_mtime_ns,
        "bytes": stat.st_size,
        "efficientvit": __version__,
        "torch": torch.__version__,
        "graph": _cached_graph(info),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"{info.name}-{digest}.onnx"


def _cached_graph(info: ModelInfo) -> str:
    """The cached graph's shapes. Classification always feeds ``info.resolution``, so a fixed batch-1 graph
    (a few seconds to export, where dynamic shapes take ~20 s); segmentation needs any size: dynamic."""
    return "static" if info.task == "cls" else "dynamic"


def cached_onnx(info: ModelInfo, weights: str) -> Path:
    """The cached ONNX export of ``info``'s model with ``weights``, exporting it on first use (with a note on
    stderr); the cache falls back to the system temp folder where ``onnx_cache_dir()`` is not writable."""
    from efficientvit.export import export_onnx
    from efficientvit.weights import read_state_dict, resolve_weights

    source = resolve_weights(weights, model_name=info.name, default_checkpoint=info.checkpoint)
    if not source.is_file():
        read_state_dict(source)  # raises the usual one-line error (no such file, a folder)
    name = onnx_cache_name(info, source)
    candidates = [onnx_cache_dir(), Path(tempfile.gettempdir()) / "efficientvit-onnx"]
    for directory in candidates:
        if (directory / name).is_file():
            return directory / name
    directory = next((d for d in candidates if _writable(d)), None)
    if directory is None:
        raise EfficientViTError(
            f"cannot write the ONNX cache in {candidates[0]} nor {candidates[1]}: export the model with "
            "`efficientvit export` and pass the file with --onnx"
        )
    model = create_model(info.name, weights=source)
    path = directory / name
    print(
        f"note: first ONNX Runtime run of {info.name} with these weights: exporting it to {path} once "
        "(later runs reuse it)",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as scratch:
        written = export_onnx(model, Path(scratch) / name, dynamic=_cached_graph(info) == "dynamic")
        for extra in Path(scratch).iterdir():  # the external weights of a > 1 GB model, if any
            if extra != written:
                os.replace(extra, directory / extra.name)
        os.replace(written, path)  # atomic: a concurrent run sees the whole file or none
    return path


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK)


def check_onnx_model(runtime: OnnxRuntimeModel, info: ModelInfo) -> None:
    """Refuse an ONNX file that does not hold ``info``'s model with shapes its inference function can feed."""
    path, graph, expected = runtime.path, runtime.graph, _GRAPHS[info.task]
    if graph is None or runtime.info is None:
        raise EfficientViTError(f"{path} has no efficientvit metadata; export it with `efficientvit export`")
    if graph != expected:
        raise EfficientViTError(
            f"{path} holds a {graph} graph ({runtime.info.name}), not a {expected}; "
            f"export one with `efficientvit export --model {info.name}`"
        )
    if runtime.info.name != info.name:
        raise EfficientViTError(
            f"{path} was exported from {runtime.info.name}, not {info.name}: pass --model {runtime.info.name}"
        )
    height, width = runtime.session.get_inputs()[0].shape[2:]
    if info.task == "seg" and (isinstance(height, int) or isinstance(width, int)):
        raise EfficientViTError(
            f"{path} takes only {height}x{width} images (exported with --static); segmentation resizes "
            "images to their own aspect ratio: export it without --static"
        )
    fixed = isinstance(height, int) and isinstance(width, int)
    if info.task == "cls" and fixed and (height, width) != tuple(info.resolution):
        expected_size = "x".join(map(str, info.resolution))
        raise EfficientViTError(
            f"{path} takes {height}x{width} images but {info.name} classifies at {expected_size}: "
            f"export it with --resolution {expected_size} or without --static"
        )


def fixed_batch(model: nn.Module) -> int | None:
    """The batch size an ONNX Runtime model's graph is fixed to (exported with --static), else None."""
    session = getattr(model, "session", None)
    if session is None:
        return None
    batch = session.get_inputs()[0].shape[0]
    return batch if isinstance(batch, int) else None
