"""`efficientvit segment`: colour overlays and label maps of image files and folders."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from efficientvit.cli.common import (
    UnreadableImages,
    add_backend_arguments,
    add_model_arguments,
    check_stems,
    load_backend_model,
    progress,
    unit_float,
)
from efficientvit.data.images import list_images, save_png
from efficientvit.inference import overlay, segment
from efficientvit.tasks.segmentation import MAX_WORKING_SIDE, SIZE_DIVISOR, check_working_sides

SUMMARY_CLASSES = 3


def _short_side(text: str) -> int:
    """argparse type: a working short side the segmenter can run at."""
    try:
        side = int(text)
        check_working_sides(side, None)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an integer from {SIZE_DIVISOR} to {MAX_WORKING_SIDE} (pixels)"
        ) from None
    return side


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `segment` command."""
    parser = subparsers.add_parser(
        "segment",
        help="segment images with a Cityscapes or ADE20K model",
        description="For each image write OUT_DIR/<stem>_overlay.png (colour overlay) and "
        "OUT_DIR/<stem>_labels.png (8-bit train ids), both at the image's size.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files and/or folders of images"
    )
    add_model_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="OUT_DIR", help="output folder")
    parser.add_argument(
        "--alpha", type=unit_float, default=0.5, help="overlay opacity in [0, 1] (default 0.5)"
    )
    parser.add_argument(
        "--short-side",
        type=_short_side,
        default=None,
        help="resize the shorter image side to this before inference (default: the model's resolution)",
    )
    parser.set_defaults(run=run)


def summary(labels: torch.Tensor, class_names: Sequence[str]) -> str:
    """The most frequent classes by pixel share, e.g. ``road 61.2%, sky 20.3%, car 9.8%``."""
    counts = torch.bincount(labels.flatten().long(), minlength=len(class_names)).double()
    shares = counts / counts.sum()
    top = shares.topk(min(SUMMARY_CLASSES, len(shares)))
    return ", ".join(
        f"{class_names[i] if i < len(class_names) else i} {s * 100:.1f}%"
        for s, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        if s > 0
    )


def run(args: argparse.Namespace) -> int:
    """Segment every image in ``args.inputs`` and write its overlay and label map."""
    paths = list_images(args.inputs)
    check_stems(paths)
    model = load_backend_model(args, "seg")
    info = model.info
    unreadable = UnreadableImages()
    with progress(paths, "image") as bar:
        for path in paths:
            bar.update(1)
            if (image := unreadable.read(path)) is None:
                continue
            labels = segment(model, image, short_side=args.short_side, backend=args.backend)
            base = args.output / path.stem
            written = [
                save_png(overlay(image, labels, info.palette, args.alpha), f"{base}_overlay.png"),
                save_png(labels, f"{base}_labels.png"),
            ]
            lines = [f"{path}: {summary(labels, info.class_names)}", *(f"  {p}" for p in written)]
            tqdm.write("\n".join(lines))
    return unreadable.exit_code
