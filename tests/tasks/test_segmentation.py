"""One pre- and post-processing path for segmentation: the evaluation loop predicts exactly what
``efficientvit.inference.segment`` predicts for the same images and weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from efficientvit import create_model
from efficientvit.data.images import read_image
from efficientvit.inference import segment
from efficientvit.metrics import confusion_matrix, iou_from_confusion
from efficientvit.tasks.segmentation import predict_labels, working_size
from efficientvit.train.config import TrainConfig
from efficientvit.train.evaluation import evaluate_weights
from efficientvit.weights import save_safetensors

SEG = "efficientvit-seg-b0-cityscapes"


@pytest.mark.parametrize("short_side", [48, 80])  # down- and upscaled from the 64-pixel images
def test_evaluation_predicts_what_segment_predicts(
    synthetic: Callable[..., Path], tmp_path: Path, short_side: int
) -> None:
    data = synthetic("folder", num_train=1, num_val=4, size=(64, 96))
    classes = (data / "classes.txt").read_text().split()
    torch.manual_seed(0)
    model = create_model(SEG, num_classes=len(classes))
    for module in model.modules():  # weights whose labels depend on the image
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, std=(1.5 / module.weight[0].numel()) ** 0.5)
    weights = save_safetensors(model, tmp_path / "w.safetensors")

    confusion = torch.zeros(len(classes), len(classes), dtype=torch.int64)
    for image_path in sorted((data / "val" / "images").iterdir()):
        labels = segment(model, read_image(image_path), short_side=short_side, max_side=10_000)
        mask = torch.from_numpy(np.array(Image.open(data / "val" / "masks" / image_path.name)))
        confusion += confusion_matrix(labels.long(), mask.long(), len(classes), ignore_index=255)
    expected = [100.0 * float(v) for v in iou_from_confusion(confusion)]

    config = TrainConfig(
        task="seg", model=SEG, data=str(data), output="", num_classes=len(classes),
        eval_short_side=short_side, workers=0, progress=False, device="cpu",
    )  # fmt: skip
    metrics = evaluate_weights(config, str(weights), protocol="efficientvit")
    assert metrics["per_class_iou"] == pytest.approx(expected, abs=0.0, nan_ok=True)
    assert len({round(v, 3) for v in expected if v == v}) > 1  # not a constant prediction


def test_predict_labels_pads_crops_and_resizes() -> None:
    calls: list[tuple[int, ...]] = []

    def stride_eight(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return torch.nn.functional.avg_pool2d(x[:, :2], 8)  # two "classes" from two channels

    images = torch.zeros(1, 3, 40, 50)
    images[:, 1, :, 25:] = 1.0  # class 1 on the right half
    labels = predict_labels(stride_eight, images, (80, 100))
    assert calls == [(1, 3, 64, 64)]  # padded to multiples of 32
    assert labels.shape == (1, 80, 100)
    # Output columns below 30 see only the zero left half; 60-89 see the ones (the padding is cropped).
    assert (labels[0, :, :30] == 0).all() and (labels[0, :, 60:90] == 1).all()
    assert working_size(64, 96, 48, 10_000) == (48, 72)


def test_official_large_labels_are_resized_a_few_classes_at_a_time_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from efficientvit.tasks import segmentation

    torch.manual_seed(0)
    logits = torch.randn(1, 7, 8, 12)  # stride-8 logits of a 64x96 input
    images = torch.zeros(1, 3, 64, 96)
    whole = predict_labels(lambda x: logits, images, (75, 101), protocol="official")
    monkeypatch.setattr(segmentation, "MAX_FULL_SIZE_LOGITS", 2 * 75 * 101)  # two classes at a time
    parts = predict_labels(lambda x: logits, images, (75, 101), protocol="official")
    assert torch.equal(parts, whole)
    # The stride-8 logits go straight to the label size, bicubic.
    direct = torch.nn.functional.interpolate(logits, size=(75, 101), mode="bicubic", align_corners=False)
    assert torch.equal(whole, direct.argmax(dim=1))
