"""Steps every image task shares."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["normalize", "standardize_"]


def standardize_(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x - mean) / std`` per channel of a float (…, 3, H, W) image in [0, 1], in place; returns ``x``."""
    mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return x.sub_(mean_t).div_(std_t)


def normalize(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A uint8 image (…, 3, H, W) scaled to [0, 1] and normalised per channel, as float32."""
    return standardize_(image.float().div_(255.0), mean, std)  # (x / 255 - mean) / std, no temporaries
