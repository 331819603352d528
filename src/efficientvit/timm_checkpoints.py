"""Checkpoints in timm's key layout (the ``timm/efficientvit_*`` hub repositories) renamed into ours.

timm's ``efficientvit_b0`` ... ``b3`` and ``efficientvit_l1`` ... ``l3`` hold the official weights under
other module paths (``stem.res0.main...``, ``stages.2.blocks.1...``, ``head.classifier.4``); every module
keeps its parameters and their names below those paths, so explicit renaming rules convert a file exactly,
whatever order its keys are stored in. Nothing here imports timm (it is a test dependency only).
timm's ``efficientvit_m*`` models are a different architecture (Microsoft's EfficientViT) and are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch

from efficientvit.errors import EfficientViTError
from efficientvit.models import BACKBONES, LargeBackboneConfig

__all__ = ["Architecture", "convert_timm_state_dict", "describe_mismatch", "is_timm_layout", "signature"]

Family = Literal["b", "l"]

TIMM_MODELS = ("b0", "b1", "b2", "b3", "l1", "l2", "l3")
"""The EfficientViT classifiers timm ships (``efficientvit_<size>``), as keys of ``BACKBONES``."""

_TIMM_STEM = "stem.in_conv.conv.weight"
_MSRA_STEM = "patch_embed.conv1.conv.weight"  # timm's efficientvit_m0 ... m5

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rule(pattern: str, replace: Callable[[re.Match[str]], str]) -> Rule:
    return re.compile(pattern), replace


# timm's stem is ``stem.in_conv`` then ``stem.res0``, ``stem.res1``, ...: one sequence, index shifted by one.
# timm's four stages are ``stages.<s>.blocks.<b>``; in the B-series our stem is a separate ``input_stem``, in
# the L-series it is our ``stages.0``, which shifts timm's stage index by one.
_BACKBONE_RULES: dict[Family, tuple[Rule, ...]] = {
    "b": (
        _rule(r"stem\.in_conv\.(.+)", lambda m: f"backbone.input_stem.op_list.0.{m[1]}"),
        _rule(r"stem\.res(\d+)\.(.+)", lambda m: f"backbone.input_stem.op_list.{int(m[1]) + 1}.{m[2]}"),
        _rule(
            r"stages\.(\d+)\.blocks\.(\d+)\.(.+)", lambda m: f"backbone.stages.{m[1]}.op_list.{m[2]}.{m[3]}"
        ),
    ),
    "l": (
        _rule(r"stem\.in_conv\.(.+)", lambda m: f"backbone.stages.0.op_list.0.{m[1]}"),
        _rule(r"stem\.res(\d+)\.(.+)", lambda m: f"backbone.stages.0.op_list.{int(m[1]) + 1}.{m[2]}"),
        _rule(
            r"stages\.(\d+)\.blocks\.(\d+)\.(.+)",
            lambda m: f"backbone.stages.{int(m[1]) + 1}.op_list.{m[2]}.{m[3]}",
        ),
    ),
}
# timm's head: in_conv, pool, classifier = (Linear, LayerNorm, act, Dropout, Linear); ours: op_list =
# (ConvNormAct, pool, LinearNormAct(linear, norm), LinearNormAct(linear)).
_HEAD_RULES: tuple[Rule, ...] = (
    _rule(r"head\.in_conv\.(.+)", lambda m: f"head.op_list.0.{m[1]}"),
    _rule(r"head\.classifier\.0\.weight", lambda m: "head.op_list.2.linear.weight"),
    _rule(r"head\.classifier\.1\.(weight|bias)", lambda m: f"head.op_list.2.norm.{m[1]}"),
    _rule(r"head\.classifier\.4\.(weight|bias)", lambda m: f"head.op_list.3.linear.{m[1]}"),
)


@dataclass(frozen=True)
class Architecture:
    """The shape of an EfficientViT state dict in our layout: family, stage widths and depths, classes."""

    family: Family
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    num_classes: int | None
    """Rows of the classifier's last linear layer; None without a classification head."""

    @property
    def size(self) -> str | None:
        """The ``BACKBONES`` key of these widths and depths (``"b1"``, ``"l2"``), or None if none has them."""
        for key, config in BACKBONES.items():
            family = "l" if isinstance(config, LargeBackboneConfig) else "b"
            if (family, config.widths, config.depths) == (self.family, self.widths, self.depths):
                return key
        return None

    def __str__(self) -> str:
        size = self.size
        if size in TIMM_MODELS:
            return f"timm's efficientvit_{size}"
        if size is not None:
            return f"an EfficientViT-{size.upper()} in timm's layout (timm has no efficientvit_{size})"
        return (
            f"an EfficientViT-{self.family.upper()} in timm's layout with widths {list(self.widths)} and "
            f"depths {list(self.depths)}, none of timm's efficientvit_{'/'.join(TIMM_MODELS)}"
        )


def is_timm_layout(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state`` is in timm's layout for EfficientViT (MIT's, or Microsoft's ``efficientvit_m*``)."""
    return _TIMM_STEM in state or _MSRA_STEM in state


def convert_timm_state_dict(
    state: Mapping[str, torch.Tensor], *, source: str
) -> tuple[dict[str, torch.Tensor], Architecture]:
    """``state`` (timm's layout) renamed into ours, and the architecture it describes; one-line errors."""
    if _MSRA_STEM in state:
        raise EfficientViTError(
            f"checkpoint {source} is one of timm's efficientvit_m* models: Microsoft's EfficientViT (Liu et "
            f"al., CVPR 2023), a different architecture from MIT's EfficientViT (Cai et al., ICCV 2023) that "
            f"this package implements; use timm's efficientvit_b*/l* checkpoints "
            f"(e.g. hf://timm/efficientvit_b1.r224_in1k)"
        )
    family = _family(state, source)
    rules = (*_BACKBONE_RULES[family], *_HEAD_RULES)
    converted: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, tensor in state.items():
        new_key = _rename(key, rules)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = tensor
    if unknown:
        shown = ", ".join(sorted(unknown)[:3]) + ", ..." * (len(unknown) > 3)
        raise EfficientViTError(
            f"checkpoint {source} is in timm's EfficientViT layout but has {len(unknown)} key(s) outside "
            f"timm's efficientvit_b0-b3 / l1-l3 classifiers ({shown}); only those timm models convert"
        )
    architecture = signature(converted)
    if architecture is None:
        raise EfficientViTError(
            f"checkpoint {source} is in timm's EfficientViT layout but its stages are incomplete; "
            f"is the file a timm efficientvit_b0-b3 / l1-l3 classifier?"
        )
    return converted, architecture


def signature(state: Mapping[str, torch.Tensor]) -> Architecture | None:
    """The family, widths and depths of a B- or L-series state dict in our layout (None if it is neither)."""
    # Blocks of each stage (its ``op_list``) that its depth does not count: the B stem's conv, none in the
    # B MBConv stages 1-2, the downsampling block of the B attention stages 3-4; in the L-series the first
    # block of every stage (stem conv or downsampling block).
    if "backbone.input_stem.op_list.0.conv.weight" in state:
        family: Family = "b"
        stages = ["backbone.input_stem", *(f"backbone.stages.{i}" for i in range(4))]
        uncounted = (1, 0, 0, 1, 1)
    elif "backbone.stages.0.op_list.0.conv.weight" in state:
        family = "l"
        stages = [f"backbone.stages.{i}" for i in range(5)]
        uncounted = (1, 1, 1, 1, 1)
    else:
        return None
    if any(key.startswith(f"backbone.stages.{4 if family == 'b' else 5}.") for key in state):
        return None  # one stage more (the XL backbones of EfficientViT-SAM): no timm model has it
    widths, depths = [], []
    for stage, skip in zip(stages, uncounted, strict=True):
        pattern = re.compile(rf"{re.escape(stage)}\.op_list\.(\d+)\.")
        blocks = {int(m[1]) for key in state if (m := pattern.match(key))}
        # the stage's width: output channels of its stem conv or of its first block's last conv
        out = state.get(
            f"{stage}.op_list.0.conv.weight", state.get(f"{stage}.op_list.0.main.point_conv.conv.weight")
        )
        if out is None or blocks != set(range(len(blocks))):
            return None
        widths.append(int(out.shape[0]))
        depths.append(len(blocks) - skip)
    classifier = state.get("head.op_list.3.linear.weight")
    num_classes = int(classifier.shape[0]) if classifier is not None else None
    return Architecture(family, tuple(widths), tuple(depths), num_classes)


def describe_mismatch(checkpoint: Architecture, model: Architecture | None) -> str:
    """How to fix loading ``checkpoint`` into a model of architecture ``model`` (a clause for an error)."""
    if model is None:
        return "it converts only into EfficientViT-B/L classifiers"
    if (checkpoint.family, checkpoint.widths, checkpoint.depths) != (
        model.family,
        model.widths,
        model.depths,
    ):
        size = checkpoint.size
        names = _classifier_names(size) if size is not None else ""
        hint = f"; it loads into {names}" if names else ""
        return f"the model is {_model_size(model)}, the checkpoint {_model_size(checkpoint)}{hint}"
    if model.num_classes is None:
        return (
            "the model has no classification head (timm's EfficientViT checkpoints are ImageNet classifiers)"
        )
    if checkpoint.num_classes is None:
        return "the checkpoint has no classifier (a timm model saved with num_classes=0)"
    if checkpoint.num_classes != model.num_classes:
        return (
            f"it has {checkpoint.num_classes} classes, the model {model.num_classes}; "
            f"create the model with num_classes={checkpoint.num_classes}"
        )
    return "its keys are not exactly those of that timm model (a modified or partial checkpoint?)"


def _family(state: Mapping[str, torch.Tensor], source: str) -> Family:
    # The first block of timm's stage 0 tells the families apart: an MBConv in the B-series, a fused MBConv
    # in the L-series (their stems differ too, but a stem may have no residual blocks).
    if "stages.0.blocks.0.main.inverted_conv.conv.weight" in state:
        return "b"
    if "stages.0.blocks.0.main.spatial_conv.conv.weight" in state:
        return "l"
    raise EfficientViTError(
        f"checkpoint {source} is in timm's EfficientViT layout but lacks the first block of a B- or L-series "
        f"stage 0 (stages.0.blocks.0.main.inverted_conv or .spatial_conv); only timm's efficientvit_b0-b3 / "
        f"l1-l3 convert"
    )


def _rename(key: str, rules: tuple[Rule, ...]) -> str | None:
    for pattern, replace in rules:
        if match := pattern.fullmatch(key):
            return replace(match)
    return None


def _model_size(architecture: Architecture) -> str:
    size = architecture.size
    if size is not None:
        return f"EfficientViT-{size.upper()}"
    return f"EfficientViT-{architecture.family.upper()} (widths {list(architecture.widths)})"


def _classifier_names(size: str) -> str:
    from efficientvit.zoo import list_models

    names = list_models(f"efficientvit-{size}-r*") or list_models(f"efficientvit-{size}")
    return ", ".join(names)
