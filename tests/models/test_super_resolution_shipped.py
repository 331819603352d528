"""Acceptance: the shipped x2 model beats bicubic by at least the first design's 1.09 dB PSNR-Y on the
held-out photographs."""

from __future__ import annotations

from pathlib import Path

from efficientvit.data.sample_photos import HELD_OUT_PHOTOS, TRAINING_PHOTOS, write_sample_photos
from efficientvit.train.config import TrainConfig
from efficientvit.train.evaluation import evaluate_weights
from efficientvit.zoo import get_model_info


def test_the_shipped_checkpoint_is_packaged_and_small() -> None:
    checkpoint = get_model_info("efficientvit-sr-full-x2").checkpoint
    assert checkpoint is not None and checkpoint.path.is_file()
    assert checkpoint.path.stat().st_size < 2**21  # 1.5 MB: small enough for the wheel


def test_held_out_photos_are_never_training_photos() -> None:
    assert not set(HELD_OUT_PHOTOS) & set(TRAINING_PHOTOS)


def test_shipped_x2_beats_bicubic_by_the_first_designs_margin_on_held_out_photos(tmp_path: Path) -> None:
    root = write_sample_photos(tmp_path)
    config = TrainConfig(
        task="sr", model="efficientvit-sr-full-x2", data=str(root), output="", workers=0, progress=False,
        device="cpu",
    )  # fmt: skip
    metrics = evaluate_weights(config, "official", split="val")
    print(metrics)
    assert metrics["images"] == len(HELD_OUT_PHOTOS)
    assert metrics["psnr"] - metrics["bicubic_psnr"] >= 1.09  # the first design's margin (README)
    assert metrics["ssim"] > metrics["bicubic_ssim"]
