"""`efficientvit sam`: EfficientViT-SAM masks from point / box prompts, or automatic masks of an image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from efficientvit import json_output
from efficientvit.atomic import atomic_write_text
from efficientvit.cli.common import (
    UnreadableImages,
    add_backend_arguments,
    add_model_arguments,
    check_stems,
    load_backend_model,
    positive_int,
    progress,
    unit_float,
)
from efficientvit.data.images import list_images, save_png
from efficientvit.errors import EfficientViTError
from efficientvit.extras import require
from efficientvit.sam import SamAutomaticMaskGenerator, SamPredictor
from efficientvit.sam.overlay import PackedMask, overlay_masks


def point(text: str) -> tuple[float, float, int]:
    """``X,Y`` or ``X,Y,LABEL`` (label 1 = foreground, 0 = background) in image pixels."""
    parts = text.split(",")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
        label = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y or X,Y,LABEL, got {text!r}") from None
    if label not in (0, 1):
        raise argparse.ArgumentTypeError(f"a point label is 1 (foreground) or 0 (background), got {label}")
    return x, y, label


def box(text: str) -> tuple[float, float, float, float]:
    """``X0,Y0,X1,Y1`` in image pixels."""
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1, got {text!r}") from None
    return x0, y0, x1, y1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sam` command."""
    parser = subparsers.add_parser(
        "sam",
        help="segment anything: masks from points / a box, or automatic masks",
        description="For every image: with --point/--box write OUT_DIR/<stem>_sam_overlay.png and "
        "<stem>_sam_mask.png (the best mask, 0/255); with --auto write <stem>_sam_auto_overlay.png and "
        "<stem>_sam_auto.json (COCO RLE).",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files and/or folders of images"
    )
    add_model_arguments(parser)
    add_backend_arguments(parser, onnx_file=False)
    parser.add_argument("--point", type=point, action="append", default=[], metavar="X,Y[,LABEL]")
    parser.add_argument("--box", type=box, default=None, metavar="X0,Y0,X1,Y1")
    parser.add_argument("--auto", action="store_true", help="automatic masks over a grid of point prompts")
    parser.add_argument("--points-per-side", type=positive_int, default=32, help="--auto grid (default 32)")
    parser.add_argument("--points-per-batch", type=positive_int, default=16, help="--auto batch (default 16)")
    parser.add_argument(
        "--pred-iou-thresh",
        type=unit_float,
        default=0.88,
        help="--auto: keep masks whose predicted IoU exceeds this, in [0, 1] (default 0.88)",
    )
    parser.add_argument(
        "--stability-score-thresh",
        type=unit_float,
        default=0.95,
        help="--auto: keep masks whose stability score exceeds this, in [0, 1] (default 0.95)",
    )
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="OUT_DIR", help="output folder")
    parser.add_argument("--alpha", type=unit_float, default=0.5, help="overlay opacity (default 0.5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Prompted or automatic masks for every image of ``args.inputs``."""
    if args.auto == bool(args.point or args.box):
        raise EfficientViTError(
            "give prompts (--point X,Y and/or --box X0,Y0,X1,Y1) or --auto, not both or none"
        )
    if args.auto:
        require("pycocotools.mask", "efficientvit sam --auto (masks as COCO RLE)")
    paths = list_images(args.inputs)
    check_stems(paths)
    model = load_backend_model(args, "sam")
    generator = (
        SamAutomaticMaskGenerator(
            model,
            points_per_side=args.points_per_side,
            points_per_batch=args.points_per_batch,
            pred_iou_thresh=args.pred_iou_thresh,
            stability_score_thresh=args.stability_score_thresh,
            output_mode="coco_rle",
            backend=args.backend,
            progress=sys.stderr.isatty(),
        )
        if args.auto
        else None
    )
    predictor = generator.predictor if generator is not None else SamPredictor(model, backend=args.backend)
    unreadable = UnreadableImages()
    with progress(paths, "image") as bar:
        for path in paths:
            bar.update(1)
            if (image := unreadable.read(path)) is None:
                continue
            tqdm.write("\n".join(_masks_for(path, image, args, generator, predictor)))
    return unreadable.exit_code


def _masks_for(
    path: Path,
    image: torch.Tensor,
    args: argparse.Namespace,
    generator: SamAutomaticMaskGenerator | None,
    predictor: SamPredictor,
) -> list[str]:
    """Write the outputs of one image; returns the lines to print."""
    base = args.output / path.stem
    if generator is not None:
        annotations = generator.generate(image)
        mask_utils = require("pycocotools.mask", "efficientvit sam --auto (masks as COCO RLE)")
        masks = [PackedMask(mask_utils.decode(a["segmentation"])) for a in annotations]  # one at a time
        written = [save_png(overlay_masks(image, masks, args.alpha), f"{base}_sam_auto_overlay.png")]
        json_path = Path(f"{base}_sam_auto.json")
        atomic_write_text(json_path, json_output.dumps(annotations))
        written.append(json_path)
        summary = f"{path}: {len(annotations)} masks"
    else:
        predictor.set_image(image)
        coords = np.array([p[:2] for p in args.point], dtype=np.float32) if args.point else None
        labels = np.array([p[2] for p in args.point]) if args.point else None
        masks, scores, _ = predictor.predict(
            point_coords=coords,
            point_labels=labels,
            box=np.array(args.box, dtype=np.float32) if args.box else None,
            multimask_output=args.box is None and len(args.point) == 1,  # one point is ambiguous
        )
        best = int(np.argmax(scores))
        written = [
            save_png(overlay_masks(image, [masks[best]], args.alpha), f"{base}_sam_overlay.png"),
            save_png(torch.from_numpy(masks[best].astype(np.uint8) * 255), f"{base}_sam_mask.png"),
        ]
        summary = f"{path}: mask score {float(scores[best]):.3f}, {int(masks[best].sum())} pixels"
    return [summary, *(f"  {p}" for p in written)]
