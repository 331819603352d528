"""Super-resolution as a task: what the registry (:mod:`efficientvit.tasks.registry`) asks of it.

Its pre- and post-processing (tiles with margins, [0, 1] RGB in and out) live in
:mod:`efficientvit.inference.super_resolution`, the one path that ``upscale`` and the exported upscaler share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from efficientvit.tasks.registry import Task, Transforms

if TYPE_CHECKING:
    from torch import nn

    from efficientvit.train.config import TrainConfig
    from efficientvit.train.tasks import TaskSpec
    from efficientvit.zoo import ModelInfo

__all__ = ["TASK"]


def _build_model(info: ModelInfo) -> nn.Module:
    from efficientvit.models.super_resolution import build_super_resolution

    return build_super_resolution(info.backbone)  # type: ignore[arg-type]


def _training(*, scale: int = 2, **_: Any) -> TaskSpec:
    from efficientvit.train.tasks import sr_task

    return sr_task(scale)


def _transforms(config: TrainConfig, info: ModelInfo, layout: str, protocol: str) -> Transforms:
    from efficientvit.data.transforms import super_resolution_train_transform

    return super_resolution_train_transform(config.patch_size), None  # evaluation takes whole images


def _summary_table(metrics: dict[str, Any], class_names: Sequence[str]) -> str:
    from efficientvit.train.report import number, table

    return table(
        [
            ("method", "PSNR-Y (dB)", "SSIM-Y"),
            ("model", number(metrics["psnr"]), number(metrics["ssim"], 4)),
            ("bicubic", number(metrics["bicubic_psnr"]), number(metrics["bicubic_ssim"], 4)),
        ]
    )


TASK = Task(
    name="sr",
    title="super-resolution",
    pipeline_tag="image-to-image",
    graphs=("upscaler",),
    build_model=_build_model,
    own_size=True,
    training=_training,
    transforms=_transforms,
    summary_table=_summary_table,
)
