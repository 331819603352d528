"""`efficientvit eval`: the standard metrics of a model's weights on a dataset split."""

from __future__ import annotations

import argparse
from pathlib import Path

from efficientvit import json_output
from efficientvit.atomic import atomic_write_text
from efficientvit.cli.common import add_backend_arguments, positive_int
from efficientvit.cli.train import add_data_arguments
from efficientvit.tasks.registry import get_task
from efficientvit.tasks.segmentation import PROTOCOLS
from efficientvit.train.config import TrainConfig
from efficientvit.train.distributed import is_main_process, shutdown_distributed
from efficientvit.train.report import format_metrics


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` command."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate weights on a dataset: top-1/top-5, mIoU, or PSNR/SSIM against bicubic",
        description="Classification: top-1/top-5 (resize + centre crop from the model's metadata). "
        "Segmentation: mIoU over the split with ignore index 255 and a per-class table, under the "
        "official evaluator's protocol by default (Cityscapes at 1024x2048, ADE20K shorter side 512 and "
        "longer rounded up to a multiple of 32, OpenCV-cubic image resize, bicubic logits; --protocol "
        "efficientvit: ours, as training validates). Super-resolution: "
        "PSNR/SSIM on the Y channel (border of SCALE pixels cropped) for the model and for bicubic; --data "
        "may be any folder of photos (they are the high-resolution references; the input is their bicubic "
        "downscale).",
    )
    add_data_arguments(parser, required=True)
    parser.add_argument(
        "--weights", "-w", default="official",
        help="a .pt/.safetensors file (a run's best.pt works), hf://OWNER/REPO/FILE, or 'official' (default)",
    )  # fmt: skip
    parser.add_argument("--split", default="val", help="dataset split (default val)")
    parser.add_argument("--batch-size", "-b", type=positive_int, default=None)
    parser.add_argument("--num-classes", type=positive_int, help="classifier size of fine-tuned weights")
    parser.add_argument(
        "--protocol", choices=PROTOCOLS, default="official",
        help="segmentation evaluation protocol: official (default; the published numbers') or efficientvit "
        "(bilinear, as training validates)",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, metavar="FILE",
        help="also write the metrics as JSON (segmentation: with per-class intersection and union counts)",
    )  # fmt: skip
    add_backend_arguments(parser, onnx_file=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the summary table."""
    from efficientvit.train.evaluation import evaluate_weights

    given = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    given.pop("backend", None)
    given.pop("protocol", None)
    if args.batch_size:
        given["eval_batch_size"] = args.batch_size
    given.pop("batch_size", None)
    config = TrainConfig(output="", **given)
    try:
        metrics = evaluate_weights(
            config, args.weights, split=args.split, backend=args.backend, protocol=args.protocol
        )
    finally:
        shutdown_distributed()
    if not is_main_process():
        return 0
    protocol = f", {args.protocol} protocol" if get_task(config.task).dense else ""
    print(f"{config.model} on {config.data} ({args.split}, {metrics['images']} images{protocol})")
    print(format_metrics(config.task, metrics, metrics.get("class_names", ())))
    if args.json:
        atomic_write_text(
            args.json,
            json_output.dumps({"model": config.model, "weights": args.weights, **metrics}, indent=2),
        )
    return 0
