"""Fixtures of the inference tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


@pytest.fixture
def random_image() -> Callable[..., torch.Tensor]:
    """``random_image(height, width, seed=0)``: a seeded uint8 (3, H, W) noise image."""

    def make(height: int, width: int, seed: int = 0) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)

    return make
