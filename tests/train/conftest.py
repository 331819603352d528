"""A fast training config for tiny generated datasets (fixture `synthetic` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from efficientvit.train.config import TrainConfig


@pytest.fixture
def fast_config() -> Callable[..., TrainConfig]:
    """``fast_config(**fields)``: a training config small enough for a unit test on two CPU cores."""
    return _fast_config


def _fast_config(**fields: Any) -> TrainConfig:
    defaults: dict[str, Any] = {
        "epochs": 1,
        "batch_size": 4,
        "workers": 0,
        "device": "cpu",
        "progress": False,
        "warmup_epochs": 0.0,
        "randaugment": False,
    }
    return TrainConfig(**{**defaults, **fields})
