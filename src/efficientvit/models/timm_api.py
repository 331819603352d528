"""timm's model API on our models, with timm's names and meanings, without importing timm.

timm numbers the feature stages of its EfficientViT models after the stem: index ``i`` is our
``stage{i + 1}`` (strides 4, 8, 16, 32). ``features_only`` models, ``feature_info``,
``forward_intermediates`` and ``out_indices`` all use that numbering.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from copy import deepcopy
from typing import Any

import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.tasks.registry import get_task

Indices = int | Sequence[int] | None
"""timm's index selection: None for all stages, an int ``n`` for the last ``n``, or explicit (negative ok)."""


def feature_take_indices(num_features: int, indices: Indices = None) -> tuple[list[int], int]:
    """The absolute stage indices that ``indices`` selects among ``num_features``, and the largest one."""
    if indices is None:
        indices = num_features
    if isinstance(indices, int):
        if not 0 < indices <= num_features:
            raise EfficientViTError(
                f"asked for the last {indices} feature stages; give 1 to {num_features} "
                "(or a list of indices)"
            )
        take = list(range(num_features - indices, num_features))
    else:
        take = []
        for index in indices:
            absolute = num_features + index if index < 0 else index
            if not 0 <= absolute < num_features:
                raise EfficientViTError(
                    f"feature index {index} is out of range; the model has {num_features} feature stages "
                    f"(0 to {num_features - 1}, or -{num_features} to -1)"
                )
            take.append(absolute)
        if not take:
            raise EfficientViTError("no feature indices given; pass None for all stages")
    return take, max(take)


class FeatureInfo:
    """timm's ``FeatureInfo``: channels, reduction and module name of each stage; ``out_indices`` chosen."""

    def __init__(self, info: list[dict[str, Any]], out_indices: Sequence[int]) -> None:
        self.info = [dict(entry, index=i) for i, entry in enumerate(info)]
        self.out_indices = tuple(out_indices)

    def from_other(self, out_indices: Sequence[int]) -> FeatureInfo:
        """The same stages with other output indices."""
        return FeatureInfo(deepcopy(self.info), out_indices)

    def get(self, key: str, idx: int | Sequence[int] | None = None) -> Any:
        """``key`` at each output index (``idx`` None), at stage ``idx`` (int), or at each listed stage."""
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, int):
            return self.info[idx][key]
        return [self.info[i][key] for i in idx]

    def get_dicts(
        self, keys: Sequence[str] | None = None, idx: int | Sequence[int] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """The info dicts (restricted to ``keys`` if given) of the output indices, or of ``idx``."""

        def pick(i: int) -> dict[str, Any]:
            return self.info[i] if keys is None else {k: self.info[i][k] for k in keys}

        if idx is None:
            return [pick(i) for i in self.out_indices]
        if isinstance(idx, int):
            return pick(idx)
        return [pick(i) for i in idx]

    def channels(self, idx: int | Sequence[int] | None = None) -> Any:
        """Feature channels."""
        return self.get("num_chs", idx)

    def reduction(self, idx: int | Sequence[int] | None = None) -> Any:
        """Feature stride relative to the input."""
        return self.get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None) -> Any:
        """Name of the module producing the feature, relative to the model."""
        return self.get("module", idx)

    def __getitem__(self, item: int) -> dict[str, Any]:
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)


def adapt_input_conv(in_chans: int, weight: torch.Tensor) -> torch.Tensor:
    """First-conv weights ``(O, I, k, k)`` for ``in_chans`` inputs, as timm's ``adapt_input_conv``: one
    channel sums the pretrained ones; other counts tile them and scale by ``I / in_chans``."""
    base = weight.shape[1]
    if in_chans < 1:
        raise EfficientViTError(f"in_chans={in_chans}; give a positive number of input channels")
    if in_chans == base:
        return weight
    dtype = weight.dtype
    weight = weight.float()
    if in_chans == 1:
        adapted = weight.sum(dim=1, keepdim=True)  # (O, 1, k, k)
    else:
        repeat = math.ceil(in_chans / base)
        adapted = weight.repeat(1, repeat, 1, 1)[:, :in_chans] * (base / in_chans)  # (O, in_chans, k, k)
    return adapted.to(dtype)


def pretrained_cfg(model: nn.Module, *, first_conv: str, classifier: str | None) -> dict[str, Any]:
    """timm's ``pretrained_cfg`` of ``model`` from its registry metadata (``model.info``): what
    ``timm.data.resolve_data_config`` turns into the model's real preprocessing."""
    from efficientvit.data.labels import IMAGENET_MEAN, IMAGENET_STD

    info = getattr(model, "info", None)
    height, width = info.resolution if info is not None else (224, 224)
    crop = info.crop_ratio if info is not None and info.crop_ratio is not None else 1.0
    in_chans = info.backbone.in_channels if info is not None else 3
    cfg: dict[str, Any] = {
        "architecture": info.name if info is not None else type(model).__name__,
        "input_size": (in_chans, height, width),
        "fixed_input_size": False,
        "interpolation": "bicubic",
        "crop_pct": crop,
        "crop_mode": "center",
        "mean": tuple(info.mean) if info is not None else IMAGENET_MEAN,
        "std": tuple(info.std) if info is not None else IMAGENET_STD,
        "num_classes": getattr(model, "num_classes", 0),
        "pool_size": (math.ceil(height / 32), math.ceil(width / 32)),
        "first_conv": first_conv,
        "license": "apache-2.0",
    }
    if classifier is not None:
        cfg["classifier"] = classifier
    return cfg


def _backbone_of(model: nn.Module, option: str) -> tuple[str, nn.Module]:
    """``(prefix, backbone)`` of a classifier or segmenter; other models raise one clear error."""
    info = getattr(model, "info", None)
    if info is not None and get_task(info.task).labels_classes and hasattr(model, "backbone"):
        return "backbone.", model.backbone
    name = info.name if info is not None else type(model).__name__
    sam = hasattr(model, "image_encoder")  # a SAM model's backbone sits in its image encoder
    hint = "; for SAM use model.image_encoder.backbone.forward_intermediates(x)" if sam else ""
    raise EfficientViTError(
        f"{option} works for classifier and segmenter names (efficientvit-b*, efficientvit-l*, "
        f"efficientvit-seg-*), not {name}{hint}"
    )


def set_input_channels(model: nn.Module, in_chans: int, *, adapt: bool) -> None:
    """Make ``model`` take ``in_chans``-channel images: the first conv is rebuilt, its pretrained weights
    adapted as timm does when ``adapt`` (weights were loaded), freshly initialised otherwise."""
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise EfficientViTError(f"in_chans={in_chans!r}; give a positive number of input channels")
    _, backbone = _backbone_of(model, "in_chans")
    parent_name, _, attr = backbone.first_conv.rpartition(".")
    parent = backbone.get_submodule(parent_name)
    old: nn.Conv2d = getattr(parent, attr)
    new = nn.Conv2d(
        in_chans,
        old.out_channels,
        old.kernel_size,
        stride=old.stride,
        padding=old.padding,
        bias=old.bias is not None,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    if adapt:
        with torch.no_grad():
            new.weight.copy_(adapt_input_conv(in_chans, old.weight))
            if old.bias is not None:
                new.bias.copy_(old.bias)
    setattr(parent, attr, new)
    backbone.config = dataclasses.replace(backbone.config, in_channels=in_chans)
    info = getattr(model, "info", None)
    if info is not None:
        model.info = dataclasses.replace(info, backbone=backbone.config)


class EfficientViTFeatures(nn.Module):
    """timm's ``features_only`` model: ``(B, C, H, W)`` images to the list of the chosen stage maps."""

    __jit_unused_properties__ = ("pretrained_cfg", "default_cfg")

    def __init__(self, model: nn.Module, out_indices: Indices = None) -> None:
        super().__init__()
        _, self.backbone = _backbone_of(model, "features_only")
        if getattr(model, "info", None) is not None:
            self.info = model.info
        self.out_indices = tuple(feature_take_indices(len(self.backbone.feature_info), out_indices)[0])
        stages = [dict(entry, module=f"backbone.{entry['module']}") for entry in self.backbone.feature_info]
        # timm keeps the indices as given (an int n meaning the last n: -n, ..., -1).
        if out_indices is None:
            given = self.out_indices
        elif isinstance(out_indices, int):
            given = tuple(range(-out_indices, 0))
        else:
            given = tuple(out_indices)
        self.feature_info = FeatureInfo(stages, given)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.forward_intermediates(
            x, indices=list(self.out_indices), stop_early=True, intermediates_only=True
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Checkpoint each stage while training (less memory, same gradients, one more forward)."""
        self.backbone.set_grad_checkpointing(enable)

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm's pretrained config: the backbone's preprocessing, no classifier."""
        return pretrained_cfg(self, first_conv=f"backbone.{self.backbone.first_conv}", classifier=None)

    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's older name of ``pretrained_cfg``."""
        return self.pretrained_cfg


def apply_timm_options(
    model: nn.Module,
    *,
    in_chans: int | None = None,
    features_only: bool = False,
    out_indices: Indices = None,
    pretrained: bool = False,
) -> nn.Module:
    """``create_model``'s timm options on a built (and loaded, if ``pretrained``) model."""
    if in_chans is not None:
        set_input_channels(model, in_chans, adapt=pretrained)
    if out_indices is not None and not features_only:
        raise EfficientViTError("out_indices selects the stages of a features model; add features_only=True")
    if features_only:
        model = EfficientViTFeatures(model, out_indices)
    return model
