"""ONNX export of classifiers, segmenters, the SAM image encoder and the SAM prompt decoder.

Exporter settings and why
-------------------------
We use the default ``torch.export``-based exporter (``torch.onnx.export(..., dynamo=True)``; its dynamic
shapes are checked by guards, where the deprecated TorchScript exporter silently bakes in Python branches)
with ``optimize=False``. The exporter's ONNX optimiser (onnxscript) removes ``x + c`` when ``c`` is within
1e-8 of zero (its ``add_0`` no-op rule compares constants with an absolute tolerance), and LiteMLA's
attention normaliser is ``den + 1e-15``: with ``optimize=True`` every one of those additions is gone from
the graph (observed with torch 2.14 / onnxscript 0.7: 0 of 7 left in B1), and where the ReLU kernels are all
zero the attention becomes 0/0 = NaN instead of 0. Instead we only fold constant subgraphs (onnxscript's
``fold_constants``: shape arithmetic, never an ``x + eps`` with a computed ``x``) and let ONNX Runtime do
the rest when it creates a session; its optimisations keep the epsilon, and the latency matches the fully
optimised graph (seg-B0 at 256x512, 2 threads: about 15-16 ms either way). ``export_onnx`` refuses a
graph that lost an epsilon, and ``tests/export/test_onnx.py`` checks it in the graph and numerically.

Dynamic shapes: batch always (also the number of prompt sets and points of the SAM decoder); height and
width for classifiers and segmenters, as multiples of 32 (the official resolutions all are; segmenters
require it), from ``32 * ceil(sqrt(head_dim + 1))`` up, so that the last stage always has more tokens than
the head dimension and LiteMLA stays on its linear path (smaller maps switch to the quadratic form, a
different graph). The SAM image encoder keeps its export resolution (its neck resizes to 64x64 and the
predictor always feeds ``info.resolution``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from efficientvit.atomic import atomic_write
from efficientvit.errors import EfficientViTError
from efficientvit.export.fuse import fuse_model
from efficientvit.extras import require
from efficientvit.layers.attention import OFFICIAL_EPS, LiteMLA
from efficientvit.models.backbone import OUTPUT_STRIDE
from efficientvit.models.classification import EfficientViTClassifier
from efficientvit.models.sam import EfficientViTSam
from efficientvit.models.sam.model import EMBED_DIM, EMBEDDING_SIZE, PROMPT_FRAME
from efficientvit.models.segmentation import EfficientViTSeg
from efficientvit.models.super_resolution import EfficientViTSR
from efficientvit.tasks.sam import LOW_RES
from efficientvit.zoo import ModelInfo, get_model_info

if TYPE_CHECKING:
    import onnx
    from torch.export import Dim

METADATA_PREFIX = "efficientvit."
_MAX_SIDE = 8192
_MAX_BATCH = 4096
_MAX_POINTS = 1024
_LARGE_BYTES = 1 << 30
MIN_OPSET = 18
"""The lowest ONNX opset torch's exporter implements (below it, it silently writes 18 instead)."""
_SR_MIN_SIDE = 2


class SamPromptDecoder(nn.Module):
    """SAM's prompt encoder and mask decoder as one graph over tensors, for export (after segment-anything's
    ONNX model): image embeddings and prompts in, low-resolution mask logits and IoU predictions out.

    Inputs (coordinates in the prompt encoder's 1024x1024 frame, as for ``EfficientViTSam``):

    * ``image_embeddings`` (1, 256, 64, 64): the image encoder's output for one image;
    * ``point_coords`` (B, N, 2) float xy and ``point_labels`` (B, N) float: 1 foreground, 0 background,
      2 / 3 top-left / bottom-right box corner, -1 padding. A box is two points labelled 2 and 3 after the
      clicks; without a box append one padding point (0, 0) labelled -1, as the prompt encoder does;
    * ``mask_input`` (B, 1, 256, 256): a previous low-resolution mask logit, used where
      ``has_mask_input`` (1,) is 1 (pass zeros and 0 for none).

    Outputs: ``low_res_masks`` (B, K, 256, 256) and ``iou_predictions`` (B, K), with K = 3 for
    ``multimask_output`` (fixed at construction) else 1: exactly ``mask_decoder(..., multimask_output)``.
    ``multimask_output=None`` returns all four (K = 4: the single-mask output first), so that one graph
    serves both choices.
    """

    def __init__(self, model: EfficientViTSam, *, multimask_output: bool | None = True) -> None:
        super().__init__()
        self.prompt_encoder = model.prompt_encoder
        self.mask_decoder = model.mask_decoder
        self.multimask_output = multimask_output
        if hasattr(model, "info"):
            self.info = model.info

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sparse = self._embed_points(point_coords, point_labels)  # (B, N, 256)
        dense = self._embed_mask(mask_input, has_mask_input)  # (B, 256, 64, 64)
        masks, iou = self.mask_decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
        )  # (B, 4, 256, 256), (B, 4): the single-mask output first, then the three multimask outputs
        if self.multimask_output is None:
            return masks, iou
        keep = slice(1, None) if self.multimask_output else slice(0, 1)
        return masks[:, keep], iou[:, keep]

    def _embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The prompt encoder's point and box embeddings, with label masks instead of boolean indexing
        (multiplying by 1 or 0 and adding 0 are exact: the same values up to matmul rounding)."""
        encoder = self.prompt_encoder
        height, width = encoder.input_image_size
        coords = coords + 0.5  # the centre of the pixel
        coords = torch.stack([coords[..., 0] / width, coords[..., 1] / height], dim=-1)  # in [0, 1]
        embedding = encoder.pe_layer._pe_encoding(coords)  # (B, N, 256)
        labels = labels.unsqueeze(-1)  # (B, N, 1)
        padding = (labels == -1).to(embedding.dtype)
        embedding = embedding * (1 - padding) + encoder.not_a_point_embed.weight * padding
        for label, point_embedding in enumerate(encoder.point_embeddings):
            embedding = embedding + point_embedding.weight * (labels == label).to(embedding.dtype)
        return embedding

    def _embed_mask(self, mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> torch.Tensor:
        encoder = self.prompt_encoder
        no_mask = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)  # (1, 256, 1, 1)
        has_mask = has_mask_input.reshape(-1, 1, 1, 1)
        return has_mask * encoder.mask_downscaling(mask_input) + (1 - has_mask) * no_mask


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    resolution: tuple[int, int] | None = None,
    dynamic: bool = True,
    opset: int | None = None,
    fuse: bool = True,
) -> Path:
    """Export ``model`` to the ONNX file ``path`` and check it with ``onnx.checker``; returns the path.

    ``model`` is an ``EfficientViTClassifier`` (input ``images``, output ``logits``), an
    ``EfficientViTSeg`` (``images`` -> stride-8 ``logits``), an ``EfficientViTSam`` (its image encoder:
    ``images`` -> ``image_embeddings``), an ``EfficientViTSR`` (``images`` in [0, 1] -> ``upscaled``) or a
    :class:`SamPromptDecoder` (its number of points is always dynamic). ``resolution`` (height, width) is the
    traced image size, by default ``model.info.resolution``; with ``dynamic`` the batch (the prompt sets of
    the decoder; for classifiers and segmenters the height and width in multiples of 32; for
    super-resolution any height and width from 2) may vary at run time, otherwise the graph is fixed to
    batch 1 at ``resolution``. ``fuse`` folds the BatchNorms first (:func:`fuse_model`); ``opset`` defaults
    to the exporter's. The model's registry name and config overrides are stored in the file's metadata, from
    which :class:`~efficientvit.export.onnxruntime.OnnxRuntimeModel` restores ``info``. After export the
    graph is checked with ``onnx.checker`` and for LiteMLA's epsilon.
    """
    onnx, optimizer = _onnx_modules()
    check_opset(opset)
    path = Path(path)
    info = getattr(model, "info", None)
    if isinstance(model, SamPromptDecoder):
        graph, spec = "sam_prompt_decoder", _decoder_spec(dynamic)
    else:
        graph, spec = _image_spec(model, info, resolution, dynamic)
    was_training = model.training
    module = fuse_model(model) if fuse else model.eval()
    large = sum(t.numel() * t.element_size() for t in module.state_dict().values()) > _LARGE_BYTES
    try:
        with warnings.catch_warnings():  # dimensions shared by several inputs are named once: fine
            warnings.filterwarnings("ignore", message="# The axis name", category=UserWarning)
            program = torch.onnx.export(
                module,
                spec["args"],
                dynamo=True,
                optimize=False,  # keeps LiteMLA's `+ 1e-15` (see the module docstring)
                input_names=spec["input_names"],
                output_names=spec["output_names"],
                dynamic_shapes=spec["dynamic_shapes"],
                opset_version=opset,
                verbose=False,
            )
    finally:
        model.train(was_training)
    assert program is not None
    written_opset = program.model.opset_imports.get("")
    if opset is not None and written_opset != opset:  # a guard against the exporter's silent fallbacks
        raise EfficientViTError(f"the ONNX exporter wrote opset {written_opset} instead of {opset}")
    # Folding the constant (shape) arithmetic is safe: it never touches an `x + eps` with a computed x.
    optimizer.fold_constants(program.model)
    optimizer.remove_unused_nodes(program.model)
    program.model.metadata_props.update(_metadata(info, graph, spec))
    if large:  # weights beside the file past protobuf's 2 GB limit: saved in place, then checked
        path.parent.mkdir(parents=True, exist_ok=True)
        program.save(path, external_data=True)
        onnx.checker.check_model(str(path), full_check=True)
        proto = onnx.load(str(path), load_external_data=False)
    else:  # checked in memory, then written atomically: a failed check or a full disk leaves no file
        import onnx_ir

        proto = onnx_ir.to_proto(program.model)
        onnx.checker.check_model(proto, full_check=True)
    epsilons = Counter(m.eps for m in module.modules() if isinstance(m, LiteMLA) and m.eps != 0)
    for eps, expected in epsilons.items():  # a guard against exporter changes
        if count_attention_epsilons(proto, eps) < expected:
            raise EfficientViTError(f"the ONNX graph {path} lost LiteMLA's attention epsilon {eps:g}")
    if not large:
        with atomic_write(path) as file:
            file.write(proto.SerializeToString())
    return path


def check_opset(opset: int | None) -> None:
    """Raise one line unless ``opset`` is ``None`` (the exporter's default) or one the exporter writes."""
    if opset is None:
        return
    onnx, _ = _onnx_modules()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise EfficientViTError(
            f"opset {opset!r}: the ONNX exporter writes opsets {MIN_OPSET} to {newest}; "
            "leave it out for the exporter's default"
        )


def _onnx_modules() -> tuple[Any, Any]:
    """``onnx`` and ``onnxscript.optimizer``, or an error that says how to install them."""
    onnx = require("onnx", "ONNX export")
    return onnx, require("onnxscript.optimizer", "ONNX export")


def count_attention_epsilons(proto: onnx.ModelProto, eps: float = OFFICIAL_EPS) -> int:
    """How many ``Add`` nodes of the graph add the constant ``eps`` (LiteMLA's attention normaliser)."""
    onnx, _ = _onnx_modules()
    constants = {init.name: init for init in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    target = np.float32(eps)
    count = 0
    for node in proto.graph.node:
        if node.op_type != "Add":
            continue
        for name in node.input:
            if name in constants:
                value = onnx.numpy_helper.to_array(constants[name])
                if value.size == 1 and value.dtype.kind == "f" and np.float32(value.item()) == target:
                    count += 1
                    break
    return count


def _image_spec(
    model: nn.Module, info: ModelInfo | None, resolution: tuple[int, int] | None, dynamic: bool
) -> tuple[str, dict[str, Any]]:
    """Example input, names and dynamic dimensions of an image model."""
    kinds = {
        EfficientViTClassifier: ("classifier", "logits"),
        EfficientViTSeg: ("segmenter", "logits"),
        EfficientViTSam: ("sam_image_encoder", "image_embeddings"),
        EfficientViTSR: ("upscaler", "upscaled"),
    }
    kind = next((value for cls, value in kinds.items() if isinstance(model, cls)), None)
    if kind is None:
        names = ", ".join(cls.__name__ for cls in (*kinds, SamPromptDecoder))
        raise EfficientViTError(f"cannot export a {type(model).__name__} to ONNX; supported: {names}")
    graph, output = kind
    if resolution is None:
        if info is None:
            raise EfficientViTError("the model has no `info` (build it with create_model): give resolution")
        resolution = info.resolution
    height, width = resolution
    from torch.export import Dim  # on use: the core package runs on torch versions without it

    batch_dim: Dim | None = Dim("batch", min=1, max=_MAX_BATCH) if dynamic else None
    shapes: dict[int, Any] = {0: batch_dim} if dynamic else {}
    if dynamic and graph == "upscaler":  # any size: tiles of an image of any size
        shapes[2] = Dim("height", min=_SR_MIN_SIDE, max=_MAX_SIDE)
        shapes[3] = Dim("width", min=_SR_MIN_SIDE, max=_MAX_SIDE)
    elif dynamic and graph != "sam_image_encoder":
        smallest = smallest_dynamic_side(model)
        for axis, name, side in ((2, "height", height), (3, "width", width)):
            if side % OUTPUT_STRIDE or side < smallest:
                raise EfficientViTError(
                    f"dynamic export traces at {height}x{width}: sides must be multiples of {OUTPUT_STRIDE}"
                    f" and at least {smallest}; pass such a resolution, or dynamic=False"
                )
            blocks = Dim(
                f"{name}_div{OUTPUT_STRIDE}", min=smallest // OUTPUT_STRIDE, max=_MAX_SIDE // OUTPUT_STRIDE
            )
            shapes[axis] = OUTPUT_STRIDE * blocks
    channels = getattr(getattr(info, "backbone", None), "in_channels", 3)  # in_chans=N models take N
    example = torch.randn(2 if dynamic else 1, channels, height, width)  # batch 2: a traced 1 would be fixed
    spec = {
        "args": (example,),
        "input_names": ["images"],
        "output_names": [output],
        "dynamic_shapes": ({k: v for k, v in shapes.items() if v is not None},) if dynamic else None,
        "resolution": (height, width),
    }
    return graph, spec


def smallest_dynamic_side(model: nn.Module) -> int:
    """The smallest side (a multiple of 32) at which the last stage, at stride 32, has more tokens than the
    attention head dimension in both directions together."""
    head_dim = int(getattr(model.backbone.config, "head_dim", 0))
    return OUTPUT_STRIDE * max(1, math.isqrt(head_dim) + 1)


def _decoder_spec(dynamic: bool) -> dict[str, Any]:
    """Example inputs of :class:`SamPromptDecoder`. The number of points is always dynamic (a click more
    or a box changes it); the number of prompt sets only with ``dynamic``. Dynamic sizes are traced at 2 and
    3: a traced size of 1 would be fixed."""
    sets = 2 if dynamic else 1
    args = (
        torch.randn(1, EMBED_DIM, EMBEDDING_SIZE, EMBEDDING_SIZE),
        torch.rand(sets, 3, 2) * PROMPT_FRAME,
        torch.tensor([[1.0, 2.0, 3.0]]).expand(sets, 3).contiguous(),
        torch.zeros(sets, 1, LOW_RES, LOW_RES),
        torch.zeros(1),
    )
    from torch.export import Dim

    batch = Dim("prompt_sets", min=1, max=_MAX_BATCH) if dynamic else None
    points = Dim("points", min=1, max=_MAX_POINTS)
    per_set = {0: batch} if dynamic else None
    return {
        "args": args,
        "input_names": ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input"],
        "output_names": ["low_res_masks", "iou_predictions"],
        "dynamic_shapes": (None, {0: batch, 1: points}, {0: batch, 1: points}, per_set, None),
        "resolution": None,
    }


def _metadata(info: ModelInfo | None, graph: str, spec: dict[str, Any]) -> dict[str, str]:
    """The graph kind, model name and config overrides, for the ONNX file (strings, JSON where structured)."""
    entries = {"graph": graph}
    if spec["resolution"] is not None:
        entries["resolution"] = json.dumps(list(spec["resolution"]))
    if info is not None:
        entries["model"] = info.name
        overrides = _overrides(info)
        if overrides is not None and any(overrides.values()):
            entries["overrides"] = json.dumps(overrides)
        if info.labels is not None:  # a fine-tuned model's own class names and colours travel with it
            entries["class_names"] = json.dumps(list(info.labels))
        if info.palette is not None and info.palette != _registered_palette(info.name):
            entries["palette"] = json.dumps([list(colour) for colour in info.palette])
    return {METADATA_PREFIX + key: value for key, value in entries.items()}


def _registered_palette(name: str) -> tuple[tuple[int, int, int], ...] | None:
    try:
        return get_model_info(name).palette
    except EfficientViTError:
        return None


def _overrides(info: ModelInfo) -> dict[str, dict[str, Any]] | None:
    """The config fields in which ``info`` differs from the registry entry of its name, per part
    (``{"backbone": {...}, "head": {...}}``); None if they cannot be written as JSON."""
    try:
        base = get_model_info(info.name)
    except EfficientViTError:
        return None
    changed: dict[str, dict[str, Any]] = {}
    for part in ("backbone", "head"):
        ours, registered = getattr(info, part), getattr(base, part)
        if type(ours) is not type(registered):
            return None
        if ours is None:  # super-resolution models have no head
            continue
        changed[part] = {
            field.name: getattr(ours, field.name)
            for field in dataclasses.fields(ours)
            if getattr(ours, field.name) != getattr(registered, field.name)
        }
    try:
        json.dumps(changed)
    except TypeError:
        return None
    return changed
