"""ImageNet classifiers: an EfficientViT backbone and a pooled MLP head, with timm's model API."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.layers import ConvNormAct, LinearNormAct, OpSequential
from efficientvit.layers.types import ActFactory
from efficientvit.models.backbone import BackboneConfig, LargeBackboneConfig, build_backbone
from efficientvit.models.timm_api import Indices, pretrained_cfg
from efficientvit.pretrained import PretrainedMixin


@dataclass(frozen=True)
class ClsHeadConfig:
    """1x1 conv to ``widths[0]``, global average pool, Linear+LayerNorm to ``widths[1]``, classifier.

    ``num_classes=0`` leaves the classifier out: the model returns the ``widths[1]`` pre-logit features.
    """

    widths: tuple[int, int]
    num_classes: int = 1000
    dropout: float = 0.0


class AvgMaxPool(nn.Module):
    """The mean of global average and global max pooling (timm's ``"avgmax"``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x.mean(dim=(2, 3), keepdim=True) + x.amax(dim=(2, 3), keepdim=True))


POOLS: dict[str, type[nn.Module]] = {
    "avg": partial(nn.AdaptiveAvgPool2d, 1),  # type: ignore[dict-item]
    "max": partial(nn.AdaptiveMaxPool2d, 1),  # type: ignore[dict-item]
    "avgmax": AvgMaxPool,
}
"""timm's ``global_pool`` names that keep the pooled width."""


class ClsHead(OpSequential):
    """Classification head over the last backbone stage: ``op_list`` holds conv, pool, hidden layer and
    classifier (the official parameter names); dropout comes before the classifier."""

    def __init__(self, in_channels: int, config: ClsHeadConfig, *, norm_eps: float, act: ActFactory) -> None:
        mid, hidden = config.widths
        super().__init__(
            [
                ConvNormAct(in_channels, mid, 1, norm=partial(nn.BatchNorm2d, eps=norm_eps), act=act),
                nn.AdaptiveAvgPool2d(output_size=1),
                LinearNormAct(mid, hidden, bias=False, norm=partial(nn.LayerNorm, eps=norm_eps), act=act),
                _classifier(hidden, config.num_classes),
            ]
        )
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.in_features = in_channels
        self.num_features = hidden
        self.num_classes = config.num_classes

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.op_list[1](self.op_list[0](x))  # (B, mid, 1, 1)
        x = self.drop(self.op_list[2](torch.flatten(x, start_dim=1)))  # (B, hidden)
        return x if pre_logits else self.op_list[3](x)

    def reset(
        self,
        num_classes: int,
        global_pool: str | None = None,
        *,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        """A new classifier for ``num_classes`` (0: none); optionally another pooling; with ``reset_other``
        the 1x1 conv and hidden layer go too, leaving pool and classifier over ``in_features`` channels."""
        if global_pool is not None:
            if global_pool not in POOLS:
                raise EfficientViTError(
                    f"global_pool={global_pool!r}; EfficientViT heads pool with one of {sorted(POOLS)}"
                )
            self.op_list[1] = POOLS[global_pool]()
        if reset_other:
            self.op_list[0] = nn.Identity()
            self.op_list[2] = nn.Identity()
            self.num_features = self.in_features
        if in_features is not None and in_features != self.in_features:
            if not isinstance(self.op_list[0], nn.Identity):
                raise EfficientViTError("the head's input width changes only with reset_other=True")
            self.in_features = self.num_features = in_features
        reference = next(self.parameters(), None)
        classifier = _classifier(self.num_features, num_classes)
        if reference is not None:
            classifier.to(device=reference.device, dtype=reference.dtype)
        self.op_list[3] = classifier.train(self.training)
        self.num_classes = num_classes


def _classifier(in_features: int, num_classes: int) -> nn.Module:
    if num_classes < 0:
        raise EfficientViTError(f"num_classes={num_classes}; give 0 (no classifier) or more")
    return LinearNormAct(in_features, num_classes, bias=True) if num_classes > 0 else nn.Identity()


class EfficientViTClassifier(nn.Module, PretrainedMixin):
    """EfficientViT image classifier: ``(B, 3, H, W)`` images to ``(B, num_classes)`` logits.

    It offers timm's model API with timm's meanings: ``forward_features``, ``forward_head``,
    ``reset_classifier``, ``forward_intermediates``, ``prune_intermediate_layers``,
    ``set_grad_checkpointing``, ``num_features``, ``head_hidden_size``, ``num_classes``,
    ``feature_info`` and ``pretrained_cfg``.
    """

    __jit_unused_properties__ = (
        "num_classes",
        "num_features",
        "head_hidden_size",
        "feature_info",
        "pretrained_cfg",
        "default_cfg",
    )

    def __init__(self, backbone: nn.Module, head: ClsHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.last_stage = backbone.last_stage

    @property
    def num_classes(self) -> int:
        """Number of logits (0: ``forward`` returns the pooled pre-logit features)."""
        return self.head.num_classes

    @property
    def num_features(self) -> int:
        """Channels of ``forward_features``' map, as in timm."""
        return self.backbone.num_features

    @property
    def head_hidden_size(self) -> int:
        """Width of ``forward_head(x, pre_logits=True)``."""
        return self.head.num_features

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """timm's feature info of the stages after the stem: channels, stride and module name."""
        return [dict(d, module=f"backbone.{d['module']}") for d in self.backbone.feature_info]

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm's pretrained config: what ``timm.data.resolve_data_config`` turns into our preprocessing."""
        classifier = "head.op_list.3.linear" if self.num_classes > 0 else None
        return pretrained_cfg(self, first_conv=f"backbone.{self.backbone.first_conv}", classifier=classifier)

    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's older name of ``pretrained_cfg``."""
        return self.pretrained_cfg

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's map ``(B, num_features, H / 32, W / 32)``."""
        return self.backbone(x)[self.last_stage]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of a ``forward_features`` map, or the ``(B, head_hidden_size)``
        pre-logit features."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final classifier layer (``nn.Identity`` when ``num_classes`` is 0)."""
        return self.head.op_list[3]

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new, freshly initialised classifier for ``num_classes`` (0: none); ``global_pool`` is one of
        ``"avg"``, ``"max"``, ``"avgmax"``."""
        self.head.reset(num_classes, global_pool)
        info = getattr(self, "info", None)
        if info is not None and info.head is not None:
            self.info = replace(info, head=replace(info.head, num_classes=num_classes))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each backbone stage in the backward pass while training (less memory, same gradients)."""
        self.backbone.set_grad_checkpointing(enable)

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Indices = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's ``forward_intermediates``: stage maps after the stem at ``indices`` (None: all four, int n:
        the last n), with the final ``forward_features`` map unless ``intermediates_only``."""
        return self.backbone.forward_intermediates(
            x,
            indices,
            norm=norm,
            stop_early=stop_early,
            output_fmt=output_fmt,
            intermediates_only=intermediates_only,
        )

    def prune_intermediate_layers(
        self, indices: Indices = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """timm's ``prune_intermediate_layers``: drop the stages after the last of ``indices``; with
        ``prune_head`` (or when stages were dropped) the head keeps only its pooling."""
        before = len(self.backbone.stage_channels)
        take = self.backbone.prune_intermediate_layers(indices)
        self.last_stage = self.backbone.last_stage
        if prune_head or len(self.backbone.stage_channels) < before:
            self.head.reset(0, reset_other=True, in_features=self.num_features)
        return take


def build_classifier(
    backbone: BackboneConfig | LargeBackboneConfig, head: ClsHeadConfig
) -> EfficientViTClassifier:
    """A classifier from its two configs; the head shares the backbone's norm epsilon and activation."""
    trunk = build_backbone(backbone)
    last_channels = list(trunk.stage_channels.values())[-1]
    return EfficientViTClassifier(
        trunk, ClsHead(last_channels, head, norm_eps=backbone.norm_eps, act=backbone.act)
    )
