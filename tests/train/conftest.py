"""Tiny datasets in their real on-disk layouts, and a fast training config for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from efficientvit.data.synthetic import write_synthetic_dataset
from efficientvit.train.config import TrainConfig


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``synthetic(layout, **options)``: the root of a generated dataset, written once per session."""
    cache: dict[tuple, Path] = {}

    def make(layout: str, **options: Any) -> Path:
        key = (layout, *sorted(options.items()))
        if key not in cache:
            directory = tmp_path_factory.mktemp(f"synthetic-{layout}")
            cache[key] = write_synthetic_dataset(directory, layout, **options)
        return cache[key]

    return make


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
