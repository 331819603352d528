"""Evaluate a model's weights on a dataset split with the standard protocol of its task."""

from __future__ import annotations

from typing import Any

from efficientvit.errors import EfficientViTError
from efficientvit.pretrained import read_saved
from efficientvit.tasks.registry import get_task
from efficientvit.tasks.segmentation import Protocol, check_protocol
from efficientvit.train.config import TrainConfig
from efficientvit.train.data import build_eval_data, dataset_num_classes
from efficientvit.train.distributed import init_distributed
from efficientvit.train.loop import evaluate
from efficientvit.train.run import amp_dtype, checked_model_info, with_model_scale
from efficientvit.train.tasks import build_task
from efficientvit.zoo import create_model

__all__ = ["evaluate_weights"]


def evaluate_weights(
    config: TrainConfig,
    weights: str | None,
    *,
    split: str = "val",
    backend: str | None = "auto",
    protocol: Protocol = "official",
) -> dict[str, Any]:
    """The metrics of ``config.model`` with ``weights`` on ``split`` of ``config.data``.

    Classification: top-1/top-5 after resize + centre crop from the model's metadata. Segmentation: mIoU over
    the whole split from one confusion matrix (ignore 255), predictions resized to the label size, with the
    per-class intersections and unions; ``protocol`` is the official evaluator's (default: OpenCV cubic
    image resize, bicubic logits; :mod:`efficientvit.tasks.segmentation`) or ``"efficientvit"``, the one
    training validates with.
    Super-resolution: PSNR/SSIM on the Y channel with a ``scale``-pixel border cropped, also for bicubic.
    Works under `torchrun` too: every process takes a shard and the sums are reduced. ``backend`` runs the
    model as :func:`efficientvit.inference.segment` does (default ``"auto"``: the fastest exact backend).
    """
    check_protocol(protocol)
    info = checked_model_info(config)
    config = with_model_scale(config, info)
    labels_classes = get_task(config.task).labels_classes
    context = init_distributed(config.device)
    loader, sampler, dataset = build_eval_data(config, info, context, split, protocol=protocol)
    overrides: dict[str, Any] = {}
    num_classes = config.num_classes or dataset_num_classes(dataset)
    saved = read_saved(weights) if weights is not None else None
    own = saved is not None and saved.model_name == config.model  # brings its own class count and names
    if not own and labels_classes and num_classes and num_classes != info.num_classes:
        overrides["num_classes"] = num_classes
    model = create_model(config.model, weights=weights, **overrides)
    if saved is not None and own and labels_classes and num_classes not in (0, model.info.num_classes):
        raise EfficientViTError(
            f"{weights} holds {saved.describe()}, but {config.data} labels {num_classes} classes; "
            "evaluate it on data with its classes"
        )
    model = model.to(context.device).eval()
    task = build_task(
        config.task, num_classes=num_classes or model.info.num_classes, scale=config.scale, protocol=protocol
    )
    metrics = evaluate(
        model, loader, task, device=context.device, amp_dtype=amp_dtype(config, context.device),
        num_batches=len(sampler), progress=config.progress and context.is_main, backend=backend,
    )  # fmt: skip
    metrics["images"] = len(dataset)  # type: ignore[arg-type]
    if get_task(config.task).dense:
        metrics["class_names"] = list(getattr(dataset, "classes", ()) or model.info.class_names)
        metrics["protocol"] = protocol
    return metrics
