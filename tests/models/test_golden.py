"""Our models reproduce the official implementation's outputs (golden cases in tests/reference/golden).

Each case names a model, an input shape and the outputs of the official model with recipe weights. The
recipe weights go through the real loading path: an official-format ``.pt`` and ``create_model``.
Set ``EFFICIENTVIT_REFERENCE_DIR`` to a folder with more ``golden/`` cases to check those too.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from efficientvit import create_model
from efficientvit.models import BACKBONES, build_backbone
from efficientvit.reference import golden_input, golden_tolerance, load_manifest, recipe_state_dict

BUNDLED = Path(__file__).parents[1] / "reference"
EXTRA = os.environ.get("EFFICIENTVIT_REFERENCE_DIR")
REFERENCE_DIRS = [BUNDLED, Path(EXTRA)] if EXTRA else [BUNDLED]
CASES = [p for d in REFERENCE_DIRS for p in sorted((d / "golden").glob("*.json"))]
SAM_NORM_EPS = 1e-6
SAM_BACKBONES = {"efficientvit-sam-l0": "l0", "efficientvit-sam-l1": "l1", "efficientvit-sam-l2": "l2"}
BACKBONE_PREFIX = "image_encoder.backbone."


def _header(path: Path) -> dict:
    return json.loads(path.read_text())


def _load(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    return _header(path), dict(np.load(path.with_suffix(".npz")))


def _assert_close(name: str, ours: torch.Tensor, golden: np.ndarray) -> None:
    expected = torch.from_numpy(golden)
    assert ours.shape == expected.shape, name
    error = (ours - expected).abs().max().item()
    assert error <= golden_tolerance(expected), f"{name}: max |diff| {error:.3g}"


CLS_SEG_CASES = [p for p in CASES if _header(p)["task"] in ("cls", "seg")]
SAM_BACKBONE_CASES = [
    p
    for p in CASES
    if _header(p)["model"] in SAM_BACKBONES
    and any(k.startswith(BACKBONE_PREFIX) for k in _header(p)["outputs"])
]


@pytest.mark.parametrize("path", CLS_SEG_CASES, ids=lambda p: p.stem)
def test_cls_and_seg_reproduce_official_outputs(path: Path, official_checkpoint) -> None:
    case, outputs = _load(path)
    model = create_model(case["model"], weights=official_checkpoint(case["model"]))
    x = golden_input(case["input"]["shape"])
    with torch.no_grad():
        features = model.backbone(x)
        logits = model(x)
    assert outputs, path
    for key, golden in outputs.items():
        ours = logits if key == "logits" else features[key.removeprefix("backbone.")]
        _assert_close(key, ours, golden)


@pytest.mark.parametrize("path", SAM_BACKBONE_CASES, ids=lambda p: p.stem)
def test_sam_l_backbones_reproduce_official_stages(path: Path) -> None:
    """The L-series backbone inside EfficientViT-SAM (norm eps 1e-6) matches its golden stage outputs."""
    case, outputs = _load(path)
    state = recipe_state_dict(load_manifest(path.parents[1] / "manifests", case["model"])["state_dict"])
    config = dataclasses.replace(BACKBONES[SAM_BACKBONES[case["model"]]], norm_eps=SAM_NORM_EPS)
    backbone = build_backbone(config)
    backbone_state = {
        k.removeprefix(BACKBONE_PREFIX): v for k, v in state.items() if k.startswith(BACKBONE_PREFIX)
    }
    backbone.load_state_dict(backbone_state)
    backbone.eval()
    with torch.no_grad():
        features = backbone(golden_input(case["input"]["shape"]))
    for key, golden in outputs.items():
        if key.startswith(BACKBONE_PREFIX):
            _assert_close(key, features[key.removeprefix(BACKBONE_PREFIX)], golden)
