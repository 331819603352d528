"""Shared test fixtures: the reference data copied from the official implementation (tests/reference/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from efficientvit.data.synthetic import write_synthetic_dataset
from efficientvit.reference import load_manifest, recipe_state_dict

REFERENCE_DIR = Path(__file__).parent / "reference"


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the network; the hub client must answer from its cache or fail fast."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # for subprocesses
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once at import, so patch it too


@pytest.fixture(autouse=True)
def _eager_by_default(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """``backend="auto"`` runs eagerly in tests (an ONNX export per test model would take minutes), and the
    export cache lives in a temporary folder; tests of the runtime itself undo both (``users_auto``)."""
    monkeypatch.setenv("EFFICIENTVIT_BACKEND", "eager")
    monkeypatch.setenv("EFFICIENTVIT_CACHE", str(tmp_path_factory.getbasetemp() / "efficientvit-cache"))


@pytest.fixture
def users_auto(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """``backend="auto"`` as users get it (the measured rules, not the tests' eager default), with one export
    cache per test module, so that each export happens once per module; returns the cache folder."""
    cache = tmp_path_factory.getbasetemp() / f"cache-{request.module.__name__.replace('.', '-')}"
    monkeypatch.delenv("EFFICIENTVIT_BACKEND")
    monkeypatch.setenv("EFFICIENTVIT_CACHE", str(cache))
    return cache


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face hub cache folder that the hub client uses for this test."""
    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """``official_checkpoint(name)``: path of an official-format ``.pt`` (``{"state_dict": ...}``) holding
    the recipe weights of the model's manifest."""
    cache: dict[str, Path] = {}
    directory = tmp_path_factory.mktemp("checkpoints")

    def make(name: str) -> Path:
        if name not in cache:
            state = recipe_state_dict(load_manifest(REFERENCE_DIR / "manifests", name)["state_dict"])
            cache[name] = directory / f"{name}.pt"
            torch.save({"state_dict": state}, cache[name])
        return cache[name]

    return make


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
