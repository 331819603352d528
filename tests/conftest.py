"""Shared test fixtures: the reference data copied from the official implementation (tests/reference/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from efficientvit.reference import load_manifest, recipe_state_dict

REFERENCE_DIR = Path(__file__).parent / "reference"


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the network; the hub client must answer from its cache or fail fast."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # for subprocesses
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once at import, so patch it too


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
