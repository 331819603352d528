"""Semantic segmentation's pre- and post-processing: working size, normalisation, padding to the size
divisor, and logits back to a label map at the image's own size.

:func:`predict_labels` is the one path from normalised images to label maps:
``efficientvit.inference.segment`` and the evaluation loop (``efficientvit.train.tasks.segmentation_task``)
both call it. Two evaluation protocols (:data:`PROTOCOLS`) differ in the input size, the image resize and
the logit resize:

* ``"official"``, that of the official evaluator (``eval_efficientvit_seg_model.py``): Cityscapes at
  1024x2048, ADE20K with the shorter side 512 and the longer ``ceil(long / short * 512 / 32) * 32``, images
  resized as OpenCV's ``INTER_CUBIC`` does (:func:`resize_cubic_opencv`), stride-8 logits resized bicubically
  (``align_corners=False``) straight to the label size before the argmax. Published mIoU is measured so.
* ``"efficientvit"``, ours (training-time validation, ``efficientvit.inference.segment``): the shorter side
  to a size (ADE20K 512, others unchanged), antialiased bilinear image resize, logits upsampled bilinearly
  to the padded input, cropped, and resized bilinearly to the label size. It takes images of any size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms.v2 import InterpolationMode

from efficientvit.models.backbone import OUTPUT_STRIDE
from efficientvit.tasks.common import normalize
from efficientvit.tasks.opencv_resize import resize_cubic_opencv
from efficientvit.tasks.registry import Task, Transforms

if TYPE_CHECKING:
    from torch import nn

    from efficientvit.train.config import TrainConfig
    from efficientvit.train.tasks import TaskSpec
    from efficientvit.zoo import ModelInfo

__all__ = [
    "MAX_FULL_SIZE_LOGITS",
    "PROTOCOLS",
    "SIZE_DIVISOR",
    "TASK",
    "EvalInput",
    "Protocol",
    "argmax_channels",
    "eval_size",
    "normalize",
    "official_size",
    "pad_to_multiple",
    "predict_labels",
    "resize_cubic_opencv",
    "resize_image",
    "upsample_logits",
    "working_size",
]

Protocol = Literal["official", "efficientvit"]
PROTOCOLS: tuple[Protocol, ...] = ("official", "efficientvit")
"""The evaluation protocols, the official evaluator's first (the default of ``efficientvit eval``)."""

SIZE_DIVISOR = OUTPUT_STRIDE
"""Segmenters take sides that are multiples of this: the backbone's ``OUTPUT_STRIDE``."""
MAX_FULL_SIZE_LOGITS = 2**26
"""Up to this many classes * H * W elements (256 MB in float32) logits are resized to the output size."""


MAX_WORKING_SIDE = 8192
"""The largest side segmenters are run at (the exported graphs' bound, 8x Cityscapes' 1024)."""


def check_working_sides(short_side: object, max_side: object) -> None:
    """Raise ``ValueError`` naming the argument unless ``short_side`` is ``None`` or an integer in
    [``SIZE_DIVISOR``, ``MAX_WORKING_SIDE``] and ``max_side`` (a cap: large means no cap) is ``None`` or an
    integer of at least ``SIZE_DIVISOR``."""
    for name, side, largest in (("short_side", short_side, MAX_WORKING_SIDE), ("max_side", max_side, None)):
        integer = isinstance(side, int) and not isinstance(side, bool)
        if side is None or (integer and side >= SIZE_DIVISOR and (largest is None or side <= largest)):
            continue
        bounds = f"from {SIZE_DIVISOR} to {largest}" if largest else f"of at least {SIZE_DIVISOR}"
        raise ValueError(f"{name} must be an integer {bounds} pixels, got {side!r}")


def working_size(height: int, width: int, short_side: int, max_side: float) -> tuple[int, int]:
    """(h, w) with the shorter side ``short_side``, unless the longer one would then exceed ``max_side``."""
    scale = min(short_side / min(height, width), max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def official_size(height: int, width: int, dataset: str, short_side: int | None = None) -> tuple[int, int]:
    """The (h, w) the official evaluator feeds the model for an image of ``height`` x ``width`` of the
    segmentation layout ``dataset`` (:mod:`efficientvit.data.layouts`).

    A layout with a fixed ``official_input`` (Cityscapes, 1024x2048): that size whatever the image, scaled to
    the shorter side ``short_side`` when given. Otherwise the shorter side ``s = short_side`` or the layout's
    ``eval_short_side`` (ADE20K: 512) and the longer ``ceil(long / short * s / 32) * 32``, the same float
    expression as the official code (a square image keeps ``s`` on both sides); without either, the image's
    own size.
    """
    from efficientvit.data.layouts import get_layout

    layout = get_layout(TASK.name, dataset)
    if layout.official_input is not None:
        fixed_h, fixed_w = layout.official_input
        side = short_side or fixed_h
        return side, side * fixed_w // fixed_h
    side = short_side or layout.eval_short_side
    if side is None:
        return height, width
    if height < width:
        return side, math.ceil(width / height * side / SIZE_DIVISOR) * SIZE_DIVISOR
    return math.ceil(height / width * side / SIZE_DIVISOR) * SIZE_DIVISOR, side


def eval_size(
    height: int, width: int, *, protocol: Protocol, dataset: str, short_side: int | None = None
) -> tuple[int, int]:
    """The model's input size (h, w) for a ``height`` x ``width`` evaluation image of the layout ``dataset``
    under ``protocol``."""
    if protocol == "official":
        return official_size(height, width, dataset, short_side)
    from efficientvit.data.layouts import get_layout

    side = short_side or get_layout(TASK.name, dataset).eval_short_side
    return (height, width) if side is None else working_size(height, width, side, math.inf)


class EvalInput:
    """``(image, mask) -> (image, mask)`` of evaluation: the uint8 (3, H, W) image resized as ``protocol``
    says (:func:`eval_size`; OpenCV cubic or antialiased bilinear) and normalised; the mask kept at its size
    as int64, since predictions are resized to the label."""

    def __init__(
        self,
        *,
        protocol: Protocol,
        dataset: str,
        short_side: int | None,
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        check_protocol(protocol)
        self.protocol, self.dataset, self.short_side = protocol, dataset, short_side
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, image: torch.Tensor, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
        image = image.as_subclass(torch.Tensor)
        height, width = image.shape[-2:]
        size = eval_size(
            height, width, protocol=self.protocol, dataset=self.dataset, short_side=self.short_side
        )
        resize = resize_cubic_opencv if self.protocol == "official" else resize_image
        image = resize(image, size)
        return normalize(image, self.mean, self.std), torch.as_tensor(mask).as_subclass(torch.Tensor).long()


def check_protocol(protocol: str) -> Protocol:
    """``protocol`` if it is one of :data:`PROTOCOLS`, else ``ValueError`` naming them."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    return protocol  # type: ignore[return-value]


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (…, 3, H, W) image resized to ``size`` (bilinear, antialiased; uint8 stays uint8)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return TF.resize(image, list(size), interpolation=InterpolationMode.BILINEAR, antialias=True)


def pad_to_multiple(x: torch.Tensor, divisor: int = SIZE_DIVISOR) -> torch.Tensor:
    """``x`` (…, H, W) zero-padded at the bottom and right to multiples of ``divisor``."""
    height, width = x.shape[-2:]
    return F.pad(x, (0, -width % divisor, 0, -height % divisor))


def upsample_logits(
    logits: torch.Tensor, size: tuple[int, int], mode: Literal["bilinear", "bicubic"] = "bilinear"
) -> torch.Tensor:
    """(B, C, h, w) logits resized to ``size`` (``mode``, ``align_corners=False``), in float32."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits.float()
    return F.interpolate(logits.float(), size=size, mode=mode, align_corners=False)


def _nearest(labels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour resize of (B, h, w) label maps of any dtype to (height, width), centres aligned."""
    h, w = labels.shape[-2:]
    rows = ((torch.arange(height, device=labels.device) + 0.5) * (h / height)).long().clamp_(max=h - 1)
    cols = ((torch.arange(width, device=labels.device) + 0.5) * (w / width)).long().clamp_(max=w - 1)
    return labels[:, rows[:, None], cols[None, :]]


def argmax_channels(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(dim=1)`` of (B, C, H, W) logits as (B, H, W) int64, the first maximum winning as in
    ``torch.argmax``. One pass per class over (B, H, W) planes: ``torch.argmax`` over the channels of an NCHW
    tensor strides across memory and took 523 ms for 19 x 1024 x 2048 logits on 2 threads, this 122 ms."""
    return _argmax_of_parts([logits], logits.shape[1])


def _argmax_of_parts(parts: Iterable[torch.Tensor], classes: int) -> torch.Tensor:
    """:func:`argmax_channels` of the concatenation of ``parts`` along the channels, one part at a time."""
    best: torch.Tensor | None = None
    index: torch.Tensor | None = None
    c = 0
    for part in parts:
        for k in range(part.shape[1]):
            channel = part[:, k]
            if best is None or index is None:
                best = channel.clone()  # (B, H, W)
                dtype = torch.uint8 if classes <= 256 else torch.int64
                index = torch.zeros(best.shape, dtype=dtype, device=part.device)
            else:
                index.masked_fill_(channel > best, c)
                torch.maximum(best, channel, out=best)
            c += 1
    assert index is not None
    return index.long()


def _resized_argmax(
    logits: torch.Tensor, size: tuple[int, int], mode: Literal["bilinear", "bicubic"]
) -> torch.Tensor | None:
    """``argmax_channels(upsample_logits(logits, size, mode))`` resizing at most ``MAX_FULL_SIZE_LOGITS``
    elements at once (a few classes at a time; interpolation treats channels independently, so the result
    is the same); ``None`` when even one class plane of the batch is larger."""
    plane = logits.shape[0] * size[0] * size[1]
    if plane > MAX_FULL_SIZE_LOGITS:
        return None
    step = max(1, MAX_FULL_SIZE_LOGITS // plane)
    classes = logits.shape[1]
    parts = (
        upsample_logits(logits[:, c : c + step].contiguous(), size, mode) for c in range(0, classes, step)
    )
    return _argmax_of_parts(parts, classes)


def predict_labels(
    run: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    size: tuple[int, int],
    *,
    divisor: int = SIZE_DIVISOR,
    protocol: Protocol = "efficientvit",
) -> torch.Tensor:
    """The (B, H, W) int64 label maps at ``size`` of normalised (B, 3, h, w) ``images`` of any h, w.

    The images are padded to multiples of ``divisor`` and run (``run`` returns stride-8 logits).
    ``"efficientvit"``: the logits are upsampled bilinearly to the padded size, the padding cropped, and
    resized bilinearly to ``size`` when ``classes * H * W <= MAX_FULL_SIZE_LOGITS``; beyond that the argmax
    is taken at (h, w) and the labels resized with nearest neighbours, so memory stays bounded.
    ``"official"``: the stride-8 logits are resized bicubically straight to ``size`` (inputs are multiples of
    32 under that protocol; where padding was needed, they are first upsampled bicubically to the padded size
    and cropped), a few classes at a time so that at most ``MAX_FULL_SIZE_LOGITS`` elements are held (the
    same labels, for any label size); only when one class plane alone is larger does it fall back to the
    nearest-neighbour labels.
    """
    check_protocol(protocol)
    mode: Literal["bilinear", "bicubic"] = "bicubic" if protocol == "official" else "bilinear"
    height, width = images.shape[-2:]
    padded = pad_to_multiple(images, divisor)  # (B, 3, Hp, Wp)
    logits = run(padded)  # (B, C, Hp / 8, Wp / 8)
    if protocol == "efficientvit" or padded.shape[-2:] != images.shape[-2:]:
        logits = upsample_logits(logits, tuple(padded.shape[-2:]), mode)[..., :height, :width]  # (B, C, h, w)
        if (height, width) == tuple(size):
            return argmax_channels(logits)
    if protocol == "efficientvit" and logits.shape[1] * size[0] * size[1] <= MAX_FULL_SIZE_LOGITS:
        return argmax_channels(upsample_logits(logits, size, mode))
    labels = _resized_argmax(logits, size, mode) if protocol == "official" else None
    if labels is not None:
        return labels
    if tuple(logits.shape[-2:]) != (height, width):
        logits = upsample_logits(logits, (height, width), mode)  # (B, C, h, w), bounded by the input size
    return _nearest(argmax_channels(logits), *size)


# The task: what the registry (efficientvit.tasks.registry) asks of semantic segmentation.


def _build_model(info: ModelInfo) -> nn.Module:
    from efficientvit.models import build_segmenter

    return build_segmenter(info.backbone, info.head)  # type: ignore[arg-type]


def _training(*, num_classes: int, protocol: Protocol = "efficientvit", **_: Any) -> TaskSpec:
    from efficientvit.train.tasks import segmentation_task

    return segmentation_task(num_classes, protocol=protocol)


def _transforms(config: TrainConfig, info: ModelInfo, layout: str, protocol: str) -> Transforms:
    from efficientvit.data.layouts import get_layout
    from efficientvit.data.transforms import segmentation_eval_transform, segmentation_train_transform

    crop = config.crop_size or (min(info.resolution), min(info.resolution))
    train = segmentation_train_transform(tuple(crop), mean=info.mean, std=info.std)
    if protocol == "official":
        evaluation: Callable = EvalInput(
            protocol=protocol, dataset=layout, short_side=config.eval_short_side, mean=info.mean, std=info.std
        )
        return train, evaluation
    short_side = config.eval_short_side or get_layout(config.task, layout).eval_short_side
    return train, segmentation_eval_transform(short_side=short_side, mean=info.mean, std=info.std)


def _summary_table(metrics: dict[str, Any], class_names: Sequence[str]) -> str:
    from efficientvit.train.report import number, table

    names = list(class_names) or [f"class {i}" for i in range(len(metrics["per_class_iou"]))]
    rows = [("class", "IoU (%)")]
    rows += [(name, number(iou)) for name, iou in zip(names, metrics["per_class_iou"], strict=False)]
    rows += [("mIoU", number(metrics["mIoU"])), ("pixel accuracy", number(metrics["pixel_acc"]))]
    return table(rows)


def _entry_call(model: nn.Module, image: torch.Tensor, backend: str) -> Callable[[], object]:
    from efficientvit.inference import segment

    height, width = image.shape[-2:]  # the model sees exactly this size
    short_side, max_side = min(height, width), max(height, width)
    return lambda: segment(model, image, short_side=short_side, max_side=max_side, backend=backend)


TASK = Task(
    name="seg",
    title="segmentation",
    pipeline_tag="image-segmentation",
    graphs=("segmenter",),
    build_model=_build_model,
    labels_classes=True,
    dense=True,
    own_size=True,
    size_divisor=SIZE_DIVISOR,
    export_parts=("encoder",),
    training=_training,
    transforms=_transforms,
    summary_table=_summary_table,
    entry="segment()",
    entry_steps="resize, normalise, model, upsample, argmax",
    entry_call=_entry_call,
)
