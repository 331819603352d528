"""Helpers shared by the CLI commands: argument types, model loading, device checks and progress bars."""

from __future__ import annotations

import argparse
from collections.abc import Sized

import torch
from torch import nn
from tqdm import tqdm

from efficientvit.errors import EfficientViTError
from efficientvit.inference.preprocess import require_task
from efficientvit.zoo import create_model, get_model_info


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
