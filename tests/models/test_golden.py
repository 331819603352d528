"""Our models reproduce the official implementation's outputs (golden cases in tests/reference/golden).

Each case names a model, an input shape and the outputs of the official model with recipe weights. The
recipe weights go through the real loading path: an official-format ``.pt`` and ``create_model``.
Set ``EFFICIENTVIT_REFERENCE_DIR`` to a folder with more ``golden/`` cases to check those too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from efficientvit import create_model
from efficientvit.reference import golden_input, golden_tolerance

BUNDLED = Path(__file__).parents[1] / "reference"
EXTRA = os.environ.get("EFFICIENTVIT_REFERENCE_DIR")
REFERENCE_DIRS = [BUNDLED, Path(EXTRA)] if EXTRA else [BUNDLED]
CASES = [p for d in REFERENCE_DIRS for p in sorted((d / "golden").glob("*.json"))]
# The prompts of the SAM full-forward cases, in the prompt encoder's 1024x1024 frame (reference README).
POINTS = (torch.tensor([[[300.0, 400.0], [700.0, 250.0]]]), torch.tensor([[1, 0]]))
BOX = torch.tensor([[150.0, 200.0, 800.0, 900.0]])


def _header(path: Path) -> dict:
    return json.loads(path.read_text())


def _load(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    return _header(path), dict(np.load(path.with_suffix(".npz")))


def _assert_close(name: str, ours: torch.Tensor, golden: np.ndarray) -> None:
    expected = torch.from_numpy(golden)
    assert ours.shape == expected.shape, name
    error = (ours - expected).abs().max().item()
    assert error <= golden_tolerance(expected), f"{name}: max |diff| {error:.3g}"


def _cases(task: str, full_forward: bool = False) -> list[Path]:
    return [
        p for p in CASES if _header(p)["task"] == task and p.stem.endswith("__full_forward") == full_forward
    ]


@pytest.mark.parametrize("path", _cases("cls") + _cases("seg"), ids=lambda p: p.stem)
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


@pytest.mark.parametrize("path", _cases("sam"), ids=lambda p: p.stem)
def test_sam_image_encoder_reproduces_official_outputs(path: Path, official_checkpoint) -> None:
    case, outputs = _load(path)
    model = create_model(case["model"], weights=official_checkpoint(case["model"]))
    x = golden_input(case["input"]["shape"])
    with torch.no_grad():
        features = model.image_encoder.backbone(x)
        embeddings = model.image_encoder(x)
    assert outputs, path
    for key, golden in outputs.items():
        ours = (
            embeddings if key == "image_embeddings" else features[key.removeprefix("image_encoder.backbone.")]
        )
        _assert_close(key, ours, golden)


@pytest.mark.parametrize("path", _cases("sam", full_forward=True), ids=lambda p: p.stem)
def test_sam_prompt_encoder_and_mask_decoder_reproduce_official_outputs(
    path: Path, official_checkpoint
) -> None:
    """Output names read ``<prompts>.<output>``: ``pts_box_multi`` = points and box, three masks."""
    case, outputs = _load(path)
    model = create_model(case["model"], weights=official_checkpoint(case["model"]))
    with torch.no_grad():
        embeddings = model.image_encoder(golden_input(case["input"]["shape"])[:1])
        for prompts in sorted({key.split(".")[0] for key in outputs}):
            words = prompts.split("_")
            sparse, dense = model.prompt_encoder(
                points=POINTS if "pts" in words else None, boxes=BOX if "box" in words else None, masks=None
            )
            low_res_masks, iou_predictions = model.mask_decoder(
                image_embeddings=embeddings,
                image_pe=model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=words[-1] == "multi",
            )
            # The official forward returns (images, prompt sets, masks, ...): one image, one prompt set here.
            for name, ours in (("low_res_masks", low_res_masks), ("iou_predictions", iou_predictions)):
                _assert_close(f"{prompts}.{name}", ours[None], outputs[f"{prompts}.{name}"])
