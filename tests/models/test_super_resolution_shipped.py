"""Acceptance: the shipped x2 model beats bicubic by at least the first design's 1.09 dB PSNR-Y on the
held-out photographs, and the shipped x4 model beats bicubic too."""

from __future__ import annotations

from pathlib import Path

import pytest

from efficientvit.data.sample_photos import HELD_OUT_PHOTOS, TRAINING_PHOTOS, write_sample_photos
from efficientvit.train.config import TrainConfig
from efficientvit.train.evaluation import evaluate_weights
from efficientvit.zoo import SR_SHIPPED, get_model_info

MARGIN_OVER_BICUBIC_DB = {
    "efficientvit-sr-full-x2": 1.09,  # the first design's margin (README)
    "efficientvit-sr-full-x4": 0.5,  # no earlier x4 model: a clear gain over bicubic
}


def test_every_shipped_model_is_packaged_small_and_has_a_quality_bar() -> None:
    assert set(SR_SHIPPED) == set(MARGIN_OVER_BICUBIC_DB)
    for name in SR_SHIPPED:
        checkpoint = get_model_info(name).checkpoint
        assert checkpoint is not None and checkpoint.path.is_file()
        assert checkpoint.path.stat().st_size < 2**21  # 1.5-1.8 MB: small enough for the wheel


def test_held_out_photos_are_never_training_photos() -> None:
    assert not set(HELD_OUT_PHOTOS) & set(TRAINING_PHOTOS)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_photos(tmp_path_factory.mktemp("photos"))


@pytest.mark.parametrize("name", sorted(MARGIN_OVER_BICUBIC_DB))
def test_shipped_model_beats_bicubic_on_held_out_photos(name: str, photos: Path) -> None:
    config = TrainConfig(
        task="sr",
        model=name,
        data=str(photos),
        output="",
        workers=0,
        progress=False,
        device="cpu",
    )  # fmt: skip  (the factor: the model's own)
    metrics = evaluate_weights(config, "official", split="val")
    print(metrics)
    assert metrics["images"] == len(HELD_OUT_PHOTOS)
    assert metrics["psnr"] - metrics["bicubic_psnr"] >= MARGIN_OVER_BICUBIC_DB[name]
    assert metrics["ssim"] > metrics["bicubic_ssim"]
