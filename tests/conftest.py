"""Shared test fixtures: the reference data copied from the official implementation (tests/reference/)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from efficientvit.data.synthetic import write_synthetic_dataset
from efficientvit.reference import load_manifest, recipe_state_dict

REFERENCE_DIR = Path(__file__).parent / "reference"

if os.environ.get("PYTEST_XDIST_WORKER"):  # `pytest -n 2`: one thread per worker, theirs and subprocesses'
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


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


def _fill_hub_cache(cache: Path, repo_id: str, folder: Path) -> Path:
    """Lay ``folder``'s files out as huggingface_hub's cache does (``models--OWNER--NAME/``: content-addressed
    ``blobs/``, ``snapshots/<commit>/`` of relative symlinks to them, ``refs/main`` naming the commit);
    returns the snapshot folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()  # any 40 hex digits
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for file in sorted(folder.iterdir()):
        blob = hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, repo / "blobs" / blob)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", blob))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture
def fill_hub_cache() -> Callable[[Path, str, Path], Path]:
    """``fill_hub_cache(cache, repo_id, folder)``: ``folder``'s files as the hub repo ``repo_id`` in the hub
    cache folder ``cache`` (the layout huggingface_hub writes), so that offline downloads find them."""
    return _fill_hub_cache


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


@pytest.fixture(scope="session")
def timm_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """``timm_checkpoint(timm_name, num_classes=1000)``: ``(model, folder)``, a timm EfficientViT with random
    weights and the folder timm's own ``save_for_hf`` wrote for it (``model.safetensors`` and
    ``config.json``: what a ``timm/efficientvit_*`` hub repository holds). The model runs with the official
    numerics (LiteMLA epsilon 1e-15; the L-series head norm epsilon 1e-7, where timm uses 1e-5)."""
    cache: dict[tuple[str, int], tuple[torch.nn.Module, Path]] = {}

    def make(timm_name: str, num_classes: int = 1000) -> tuple[torch.nn.Module, Path]:
        if (timm_name, num_classes) not in cache:
            import timm
            from timm.models import save_for_hf

            torch.manual_seed(0)
            model = _randomize(timm.create_model(timm_name, num_classes=num_classes))
            for module in model.modules():
                if type(module).__name__ == "LiteMLA":
                    module.eps = 1e-15
            if timm_name.startswith("efficientvit_l"):
                model.head.in_conv.norm.eps = 1e-7
            folder = tmp_path_factory.mktemp(f"timm-{timm_name}-{num_classes}")
            save_for_hf(model, str(folder), safe_serialization=True)
            cache[timm_name, num_classes] = model, folder
        return cache[timm_name, num_classes]

    return make


def _randomize(model: torch.nn.Module) -> torch.nn.Module:
    """Random norm affines, then running statistics from one batch of noise: default-initialised EfficientViTs
    give nearly constant logits (the signal fades through the stages), which would hide wrong weights."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d | torch.nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.2)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # running statistics = the statistics of the calibration batch
        model.train()(torch.randn(4, 3, 64, 64, generator=generator))
    return model.eval()
