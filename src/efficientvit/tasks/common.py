"""Steps every image task shares."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["normalize"]


def normalize(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A uint8 image (…, 3, H, W) scaled to [0, 1] and normalised per channel, as float32."""
    mean_t = torch.tensor(mean, dtype=torch.float32, device=image.device).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=image.device).view(3, 1, 1)
    x = image.float()
    return x.div_(255.0).sub_(mean_t).div_(std_t)  # (x / 255 - mean) / std, without temporaries
