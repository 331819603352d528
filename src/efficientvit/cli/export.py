"""`efficientvit export`: an ONNX file of a model, run once in ONNX Runtime against PyTorch as a check."""

from __future__ import annotations

import argparse
from pathlib import Path

from torch import nn

from efficientvit.cli.common import positive_int
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.extras import require_extra
from efficientvit.models.backbone import OUTPUT_STRIDE
from efficientvit.pretrained import read_saved
from efficientvit.sizes import parse_pair
from efficientvit.tasks.registry import get_task, task_names
from efficientvit.weights import load_weights
from efficientvit.zoo import ModelInfo, create_model, get_model_info

PARTS = ("encoder", "decoder")
PART_TITLES = {"encoder": "image encoder", "decoder": "prompt decoder"}
"""How the printed summary names a part, for models that have several."""


def resolution(text: str) -> tuple[int, int]:
    """argparse type: ``HxW`` or ``N`` (square), positive integers."""
    try:
        return parse_pair(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH or N with sides >= 1: {err}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a model to ONNX, checked in ONNX Runtime",
        description="Write an ONNX file of a classifier, segmenter or EfficientViT-SAM part (BatchNorms "
        "folded; dynamic batch and, for classifiers and segmenters, dynamic height and width in multiples "
        "of 32), then run it once in ONNX Runtime on a random input and print its difference from PyTorch, "
        "its size and its inputs and outputs.",
    )
    parser.add_argument(
        "--model", "-m", required=True, help="registered model name (see `efficientvit models`)"
    )
    parser.add_argument(
        "--weights",
        "-w",
        default="official",
        help="checkpoint: a local .pt/.pth/.safetensors file, hf://OWNER/REPO/FILE, or 'official' (default)",
    )
    parser.add_argument("--format", default="onnx", choices=("onnx",), help="file format (default onnx)")
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="FILE", help="file to write")
    parser.add_argument(
        "--resolution",
        type=resolution,
        default=None,
        metavar="HxW",
        help="traced image size, HEIGHTxWIDTH or N (default: the model's resolution); dynamic exports "
        "accept other multiples of 32 at run time",
    )
    parser.add_argument(
        "--static", action="store_true", help="fix the graph to batch 1 at --resolution (no dynamic sizes)"
    )
    parser.add_argument("--no-fuse", action="store_true", help="keep the BatchNorms (default: fold them)")
    parser.add_argument(
        "--opset", type=positive_int, default=None, help="ONNX opset (default: the exporter's)"
    )
    parser.add_argument(
        "--part",
        choices=PARTS,
        default=None,
        help="SAM models only: the image encoder (default) or the prompt encoder + mask decoder",
    )
    parser.set_defaults(run=run)


def check_arguments(info: ModelInfo, part: str | None, size: tuple[int, int] | None) -> str:
    """The part to export (``encoder`` for every non-SAM model), after refusing options that do not apply."""
    task = get_task(info.task)
    if not task.export_parts:
        exported = [get_task(name).title for name in task_names() if get_task(name).export_parts]
        raise EfficientViTError(
            f"{info.name} is a {task.title} model; ONNX export supports {', '.join(exported)} models"
        )
    if part is not None and len(task.export_parts) < 2:
        raise EfficientViTError(
            f"--part applies to SAM models only; {info.name} is a {task.title} model: drop --part"
        )
    part = part or task.export_parts[0]
    if part == "decoder" and size is not None:
        raise EfficientViTError("--resolution does not apply to --part decoder (it takes 64x64 embeddings)")
    return part


def check_resolution(model: nn.Module, size: tuple[int, int], *, dynamic: bool) -> None:
    """Refuse a traced size that the exported graph could not serve, naming a valid one."""
    from efficientvit.export.onnx import smallest_dynamic_side

    info: ModelInfo = model.info  # type: ignore[assignment]
    task = get_task(info.task)
    if task.fixed_frame:
        return  # the encoder keeps its traced size; only the batch is dynamic
    height, width = size
    multiple = task.size_divisor > 1 or dynamic
    smallest = smallest_dynamic_side(model) if dynamic else OUTPUT_STRIDE if multiple else 1
    if (multiple and (height % OUTPUT_STRIDE or width % OUTPUT_STRIDE)) or min(size) < smallest:
        valid = "x".join(str(max(smallest, -(-side // OUTPUT_STRIDE) * OUTPUT_STRIDE)) for side in size)
        why = f"a {task.title} model's" if task.size_divisor > 1 else "a dynamic export's"
        raise EfficientViTError(
            f"--resolution {height}x{width}: {why} sides must be multiples of {OUTPUT_STRIDE}"
            + (f" and at least {smallest}" if dynamic else "")
            + f", e.g. --resolution {valid}"
            + (" (or --static)" if dynamic and task.size_divisor == 1 else "")
        )


def _dims(shape: list[int | str | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def run(args: argparse.Namespace) -> int:
    """Export ``args.model`` to ``args.output`` and check it in ONNX Runtime."""
    from efficientvit.export import OnnxRuntimeModel, SamPromptDecoder, export_onnx
    from efficientvit.export.check import describe, example_inputs, max_difference
    from efficientvit.export.onnx import check_opset

    require_extra("onnx", "efficientvit export")
    info = get_model_info(args.model)
    part = check_arguments(info, args.part, args.resolution)
    check_opset(args.opset)
    if args.output.is_dir():
        raise EfficientViTError(f"--output {args.output} is a folder; give a file name such as model.onnx")
    # checks come before a possibly long download of the weights; a local folder or a run's checkpoint
    # brings its own class count, so it is loaded as the model is built
    saved = read_saved(args.weights)
    model = create_model(args.model, weights=args.weights if saved is not None else None)
    size = None if part == "decoder" else args.resolution or info.resolution
    if size is not None:
        check_resolution(model, size, dynamic=not args.static)
    if saved is None:
        load_weights(model, args.weights, model_name=info.name, default_checkpoint=info.checkpoint)
    if part == "decoder":
        model = SamPromptDecoder(model)
    try:
        path = export_onnx(
            model,
            args.output,
            resolution=size,
            dynamic=not args.static,
            opset=args.opset,
            fuse=not args.no_fuse,
        )
    except OSError as err:
        raise EfficientViTError(f"cannot write {args.output}: {err.strerror or one_line(err)}") from None
    runtime = OnnxRuntimeModel(path)
    inputs = example_inputs(model, size)
    difference, within, output_shapes = max_difference(model, runtime, inputs)

    what = info.name
    if len(get_task(info.task).export_parts) > 1:
        what += f" {PART_TITLES[part]}"
    shapes = "static shapes" if args.static else "dynamic shapes"
    fused = "BatchNorms kept" if args.no_fuse else "BatchNorms folded"
    size_bytes, opset = describe(path)
    print(f"{path}: {what}, {size_bytes / 1e6:.1f} MB, opset {opset}, {shapes}, {fused}")
    session = runtime.session
    rows = [
        *(("input", node, tuple(x.shape)) for node, x in zip(session.get_inputs(), inputs, strict=True)),
        *(("output", node, shape) for node, shape in zip(session.get_outputs(), output_shapes, strict=True)),
    ]
    width = max(len(node.name) for _, node, _ in rows)
    for kind, node, checked in rows:
        print(f"  {kind:<6}  {node.name:<{width}}  {_dims(node.shape)}  (checked: {_shape(checked)})")
    shapes_text = ", ".join(_shape(tuple(x.shape)) for x in inputs)
    where = f"a random {shapes_text} input" if len(inputs) == 1 else f"random inputs of {shapes_text}"
    print(f"max |ONNX Runtime - PyTorch| = {difference:.3g} on {where}")
    if not within:  # NaN compares False too
        raise EfficientViTError(
            f"{path} differs from PyTorch by {difference:.3g}, beyond 1e-4 of the output's range; the file "
            "is kept, but do not deploy it: please report this with the model name and torch/onnx versions"
        )
    return 0
