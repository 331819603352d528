"""Fixtures of the SAM tests: EfficientViT-SAM-L0 with recipe weights, and real sample photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from efficientvit.reference import load_manifest, recipe_state_dict
from efficientvit.zoo import create_model

MANIFESTS = Path(__file__).parents[1] / "reference" / "manifests"


@pytest.fixture(scope="session")
def sam_l0() -> torch.nn.Module:
    """efficientvit-sam-l0 with the reference recipe weights (deterministic, not trained)."""
    model = create_model("efficientvit-sam-l0")
    model.load_state_dict(recipe_state_dict(load_manifest(MANIFESTS, "efficientvit-sam-l0")["state_dict"]))
    return model


@pytest.fixture(scope="session")
def sample_photo() -> Callable[[str, int, int], np.ndarray]:
    """``sample_photo(name, height, width)``: a scikit-image sample photo, resized, (H, W, 3) uint8."""
    from skimage import data

    def load(name: str, height: int, width: int) -> np.ndarray:
        photo = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1)[None].float()  # (1, 3, H0, W0)
        small = F.interpolate(photo, size=(height, width), mode="bilinear", antialias=True)
        return small.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()  # (H, W, 3)

    return load
