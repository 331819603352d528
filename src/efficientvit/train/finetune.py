"""Start training from a checkpoint of the same architecture, possibly with another number of classes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import nn

from efficientvit import timm_checkpoints
from efficientvit.errors import EfficientViTError
from efficientvit.pretrained import read_saved
from efficientvit.weights import read_state_dict, resolve_weights
from efficientvit.zoo import Checkpoint

__all__ = ["LoadReport", "load_pretrained"]


@dataclass
class LoadReport:
    """What :func:`load_pretrained` took from the checkpoint and what it left at its initial value."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Model keys kept at their initial values, each with the reason."""
    unused: list[str] = field(default_factory=list)
    """Checkpoint keys the model has no place for."""

    def summary(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        if self.skipped:
            lines.append(f"re-initialised {len(self.skipped)}: " + ", ".join(self.skipped))
        if self.unused:
            lines.append(f"ignored {len(self.unused)} checkpoint tensors: " + ", ".join(self.unused[:8]))
        return "; ".join(lines)


def load_pretrained(
    model: nn.Module,
    weights: str | os.PathLike[str],
    *,
    model_name: str,
    default_checkpoint: Checkpoint | None = None,
) -> LoadReport:
    """Load every tensor of ``weights`` whose name and shape match ``model``; report the rest.

    A new classifier (``num_classes`` changed) keeps its fresh initialisation and is listed in
    ``report.skipped``. If fewer than half of the model's tensors match, the checkpoint belongs to another
    architecture and loading stops with an error.
    """
    saved = read_saved(weights)  # a save_pretrained folder holds its tensors in model.safetensors
    if saved is not None:
        path = saved.weights
    else:
        path = resolve_weights(weights, model_name=model_name, default_checkpoint=default_checkpoint)
    state = read_state_dict(path)
    if timm_checkpoints.is_timm_layout(state):  # e.g. hf://timm/efficientvit_b1.r224_in1k
        state, _ = timm_checkpoints.convert_timm_state_dict(state, source=os.fspath(weights))
    own = model.state_dict()
    report = LoadReport()
    matched: dict[str, torch.Tensor] = {}
    for key, value in own.items():
        if key not in state:
            report.skipped.append(f"{key} (not in checkpoint)")
        elif state[key].shape != value.shape:
            report.skipped.append(f"{key} ({list(state[key].shape)} in checkpoint, {list(value.shape)} here)")
        else:
            matched[key] = state[key]
            report.loaded.append(key)
    report.unused = [key for key in state if key not in own]
    if len(matched) < len(own) / 2:
        raise EfficientViTError(
            f"checkpoint {weights} does not fit {model_name}: only {len(matched)} of {len(own)} tensors "
            "match by name and shape; is it the checkpoint of another model?"
        )
    model.load_state_dict(matched, strict=False)
    return report
