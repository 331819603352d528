"""`efficientvit classify`: top-k ImageNet labels of image files and folders."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from efficientvit import json_output
from efficientvit.cli.common import (
    UnreadableImages,
    add_backend_arguments,
    add_model_arguments,
    load_backend_model,
    positive_int,
    progress,
)
from efficientvit.data.images import list_images
from efficientvit.inference import classify


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `classify` command."""
    parser = subparsers.add_parser(
        "classify",
        help="classify images with an ImageNet model",
        description="Print the top-k ImageNet labels and probabilities of each image.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files and/or folders of images"
    )
    add_model_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--top-k", "-k", type=positive_int, default=5, help="labels per image (default 5)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=16, help="images per forward pass (default 16)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text blocks")
    parser.set_defaults(run=run)


def format_block(path: str, predictions: list[tuple[str, float]]) -> str:
    """The image's path, then one ``probability  label`` line per prediction."""
    return "\n".join([path, *(f"  {p * 100:6.2f}%  {label}" for label, p in predictions)])


def run(args: argparse.Namespace) -> int:
    """Classify every image in ``args.inputs`` in batches and print the results; an unreadable image is
    named on stderr and skipped, and the exit status is then 1."""
    paths = list_images(args.inputs)
    model = load_backend_model(args, "cls")
    # a --static ONNX graph takes a fixed batch (one image at a time)
    batch_size = getattr(model, "fixed_batch", None) or args.batch_size
    results: list[dict[str, object]] = []
    unreadable = UnreadableImages()
    with progress(paths, "image") as bar:
        for start in range(0, len(paths), args.batch_size):
            read = [(path, unreadable.read(path)) for path in paths[start : start + args.batch_size]]
            chunk = [path for path, image in read if image is not None]
            images = [image for _, image in read if image is not None]
            batch = classify(model, images, args.top_k, batch_size=batch_size, backend=args.backend)
            for path, predictions in zip(chunk, batch, strict=True):
                if not args.json:
                    tqdm.write(("\n" if results else "") + format_block(str(path), predictions))
                top = [{"label": label, "probability": p} for label, p in predictions]
                results.append({"image": str(path), "predictions": top})
            bar.update(len(read))
    if args.json:
        print(json_output.dumps(results, indent=2))
    return unreadable.exit_code
