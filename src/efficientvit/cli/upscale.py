"""`efficientvit upscale`: super-resolution of image files and folders, keeping grey, alpha and 16 bits."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from efficientvit.cli.common import add_backend_arguments, load_backend_model, positive_int, progress
from efficientvit.data.images import list_images
from efficientvit.errors import EfficientViTError
from efficientvit.inference.preprocess import require_task
from efficientvit.inference.super_resolution import DEFAULT_TILE
from efficientvit.inference.upscale_file import (
    check_destination,
    open_image,
    probe_output_mode,
    save_image,
    upscale_image,
)
from efficientvit.zoo import SR_SCALES, get_model_info

FORMAT_CHOICES = ("png", "jpg", "webp")
DEFAULT_SCALE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `upscale` command."""
    parser = subparsers.add_parser(
        "upscale",
        help="upscale images with an EfficientViT-SR super-resolution model",
        description="For each image write OUT_DIR/<stem>_x<scale>.png, <scale> times larger. Grey images "
        "stay grey, alpha is kept (upscaled bicubic) and 16-bit grey images are written as 16-bit PNGs; "
        "16-bit RGB PNGs are read as 8-bit (a Pillow limitation).",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files and/or folders of images"
    )
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="OUT_DIR", help="output folder")
    parser.add_argument(
        "--scale",
        "-s",
        type=int,
        choices=SR_SCALES,
        default=None,
        help=f"upscaling factor; picks efficientvit-sr-full-x<scale> (default {DEFAULT_SCALE}, or the scale "
        "of --model)",
    )
    parser.add_argument(
        "--model",
        "-m",
        default=None,
        help=f"super-resolution model name (default efficientvit-sr-full-x{DEFAULT_SCALE}; "
        "`efficientvit models` lists them)",
    )
    parser.add_argument(
        "--weights",
        "-w",
        default="official",
        help="checkpoint: a local .pt/.pth/.safetensors file, hf://OWNER/REPO/FILE, or 'official' "
        "(the model's shipped checkpoint; default)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to run on, e.g. cpu, cuda, cuda:1 (default cpu)"
    )
    add_backend_arguments(parser, onnx_file=False)
    parser.add_argument(
        "--tile",
        type=positive_int,
        default=DEFAULT_TILE,
        help=f"input pixels per tile side; bounds memory, the result is the same (default {DEFAULT_TILE})",
    )
    parser.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="png",
        help="output file format (default png; jpg holds neither alpha nor 16 bits)",
    )
    parser.set_defaults(run=run)


def model_name(model: str | None, scale: int | None) -> str:
    """The model to run: ``model`` if given (checked to upscale by ``scale`` if that is given too)."""
    if model is None:
        return f"efficientvit-sr-full-x{scale or DEFAULT_SCALE}"
    info = require_task(get_model_info(model), "sr")
    if scale is not None and info.scale != scale:
        raise EfficientViTError(
            f"--model {model} upscales x{info.scale} but --scale is {scale}; give only one of them"
        )
    return model


def output_paths(paths: Sequence[Path], out_dir: Path, scale: int, extension: str) -> list[Path]:
    """OUT_DIR/<stem>_x<scale>.<extension> for each input; inputs whose outputs would collide are refused."""
    seen: dict[Path, Path] = {}
    for path in paths:
        destination = out_dir / f"{path.stem}_x{scale}.{extension}"
        if destination in seen:
            raise EfficientViTError(
                f"{seen[destination]} and {path} would both write {destination}; rename one of them"
            )
        seen[destination] = path
    return list(seen)


def run(args: argparse.Namespace) -> int:
    """Upscale every image in ``args.inputs`` into ``args.output``."""
    name = model_name(args.model, args.scale)
    scale = get_model_info(name).scale
    paths = list_images(args.inputs)
    destinations = output_paths(paths, args.output, scale, args.format)
    for path, destination in zip(paths, destinations, strict=True):  # headers only: fail before any work
        check_destination(destination, probe_output_mode(path))
    args.model = name
    model = load_backend_model(args, "sr")
    with progress(paths, "image") as bar:
        for path, destination in zip(paths, destinations, strict=True):
            image = open_image(path)
            tiles_bar = sys.stderr.isatty()  # a bar of the tiles of a large image, on a terminal
            result = upscale_image(model, image, tile=args.tile, backend=args.backend, progress=tiles_bar)
            written = save_image(result, destination)
            tqdm.write(
                f"{os.fspath(path)} ({image.width}x{image.height}) -> "
                f"{os.fspath(written)} ({result.width}x{result.height}) {result.mode}"
            )
            bar.update(1)
    return 0
