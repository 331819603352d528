"""Real photographs with public-domain / CC0 licences, from scikit-image's bundled sample data.

They train and evaluate the shipped super-resolution model. The held-out photographs are never used for
training. Needs scikit-image (a dev dependency: ``pip install scikit-image``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from efficientvit.extras import require

__all__ = ["HELD_OUT_PHOTOS", "TRAINING_PHOTOS", "write_sample_photos"]

# name in skimage.data: licence, as stated in scikit-image's documentation of each image.
TRAINING_PHOTOS: dict[str, str] = {
    "astronaut": "public domain (NASA)",
    "rocket": "public domain (SpaceX)",
    "hubble_deep_field": "public domain (NASA)",
    "immunohistochemistry": "no known copyright restrictions",
    "retina": "CC0 1.0",
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (CC0Textures)",
    "gravel": "CC0 (CC0Textures)",
    "coins": "no known copyright restrictions",
}
HELD_OUT_PHOTOS: dict[str, str] = {
    "coffee": "CC0 (Rachel Michetti)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "camera": "CC0 (Lav Varshney)",
}


def _save(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def write_sample_photos(root: str | os.PathLike[str]) -> Path:
    """Write ``root/train/*.png`` (training) and ``root/val/*.png`` (held-out photos); return ``root``."""
    skimage_data = require("skimage.data", "writing the sample photographs")
    root = Path(root)
    for split, names in (("train", TRAINING_PHOTOS), ("val", HELD_OUT_PHOTOS)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for name in names:
            _save(getattr(skimage_data, name)(), root / split / f"{name}.png")
    return root
