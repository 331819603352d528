"""`efficientvit eval` under the official protocol gives the official evaluator's per-class intersections and
unions. The reference below is written from the evaluator's description (mit-han-lab/efficientvit,
``applications/efficientvit_seg/eval_efficientvit_seg_model.py``), not from our code: PIL -> cv2.resize
INTER_CUBIC -> /255 and torchvision normalize -> model -> F.interpolate bicubic to the label -> argmax ->
its ``SegIOU`` histograms, with its label handling (Cityscapes label ids through its table, ADE20K - 1)."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn

from efficientvit import create_model
from efficientvit.cli import main
from efficientvit.data.synthetic import write_synthetic_dataset
from efficientvit.tasks.segmentation import official_size
from efficientvit.weights import save_safetensors

cv2 = pytest.importorskip("cv2")

SEG = "efficientvit-seg-b0-cityscapes"
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
# The official CityscapesDataset.label_map: label id -> train id, -1 for the rest.
CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                        25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip


@pytest.fixture
def opencv_own_code() -> Iterator[None]:
    """cv2.resize with OpenCV's own code (its x86 wheels otherwise hand cubic resizes to Intel IPP, which is
    off by 1 on a few percent of the values and differs between releases)."""
    cv2.setUseOptimized(False)
    yield
    cv2.setUseOptimized(True)


def _model(num_classes: int, path: Path) -> tuple[nn.Module, Path]:
    torch.manual_seed(1)
    model = create_model(SEG, num_classes=num_classes)
    for module in model.modules():  # weights whose labels depend on the image
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, std=(2.0 / module.weight[0].numel()) ** 0.5)
    return model.eval(), save_safetensors(model, path)


def _official_intersections_unions(
    model: nn.Module, pairs: list[tuple[Path, Path]], dataset: str, num_classes: int, crop_size: int
) -> tuple[list[int], list[int], int]:
    """The official evaluator's summed intersections and unions (with its ``--crop_size``), and how many
    classes it predicted."""
    predicted: set[int] = set()
    intersection = torch.zeros(num_classes, dtype=torch.float64)
    union = torch.zeros(num_classes, dtype=torch.float64)
    for image_path, mask_path in pairs:
        image = np.array(Image.open(image_path).convert("RGB"))
        raw = np.array(Image.open(mask_path))
        if dataset == "cityscapes":
            table = np.full(256, -1, dtype=np.int64)
            for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
                table[label_id] = train_id
            mask = table[raw]
            th, tw = crop_size, crop_size * 2
        else:
            mask = raw.astype(np.int64) - 1
            h, w = image.shape[:2]
            if h < w:
                th, tw = crop_size, math.ceil(w / h * crop_size / 32) * 32
            else:
                tw, th = crop_size, math.ceil(h / w * crop_size / 32) * 32
        if image.shape[:2] != (th, tw):
            image = cv2.resize(image, dsize=(tw, th), interpolation=cv2.INTER_CUBIC)
        x = TF.normalize(torch.as_tensor(image.transpose(2, 0, 1), dtype=torch.float32).div(255.0), MEAN, STD)
        target = torch.as_tensor(mask)[None]
        with torch.inference_mode():
            output = model(x[None])
            output = F.interpolate(output, size=target.shape[-2:], mode="bicubic", align_corners=False)
        prediction = torch.argmax(output, dim=1)
        predicted |= set(prediction.unique().tolist())
        # SegIOU(ignore_index=-1)
        valid = target != -1
        outputs = ((prediction + 1) * valid).float()
        targets = ((target + 1) * valid).float()
        hits = outputs * (outputs == targets)
        bins = {"bins": num_classes, "min": 1, "max": num_classes}
        i = torch.histc(hits, **bins).double()
        intersection += i
        union += torch.histc(outputs, **bins).double() + torch.histc(targets, **bins).double() - i
    return [int(v) for v in intersection], [int(v) for v in union], len(predicted)


def _eval_json(data: Path, num_classes: int, weights: Path, out: Path, *extra: str) -> dict:
    code = main([
        "eval", "--task", "seg", "--model", SEG, "--data", str(data), "--weights", str(weights),
        "--num-classes", str(num_classes), "--workers", "0", "--no-progress", "--backend", "eager",
        "--json", str(out), *extra,
    ])  # fmt: skip
    assert code == 0
    return json.loads(out.read_text(), parse_constant=_not_json)  # strict: no NaN / Infinity


def _not_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON (strict parsers reject it)")


# The official evaluator's --crop_size (its default: 1024 for Cityscapes, 512 for ADE20K; test_official_size
# checks those) is our --eval-short-side; a smaller one keeps the tests fast.
CROP = 160


def test_cityscapes_matches_the_official_evaluator(opencv_own_code: None, tmp_path: Path) -> None:
    data = write_synthetic_dataset(
        tmp_path / "cityscapes", "cityscapes", num_train=0, num_val=1, size=(48, 96)
    )
    model, weights = _model(19, tmp_path / "w.safetensors")
    pairs = [
        (
            image,
            data
            / "gtFine"
            / "val"
            / image.parent.name
            / image.name.replace("leftImg8bit", "gtFine_labelIds"),
        )
        for image in sorted((data / "leftImg8bit" / "val").rglob("*.png"))
    ]
    expected_i, expected_u, predicted = _official_intersections_unions(model, pairs, "cityscapes", 19, CROP)
    metrics = _eval_json(data, 19, weights, tmp_path / "m.json", "--eval-short-side", str(CROP))
    assert metrics["protocol"] == "official"
    assert metrics["intersection"] == expected_i
    assert metrics["union"] == expected_u
    assert predicted > 1  # not a constant prediction


def test_ade20k_of_odd_sizes_matches_the_official_evaluator(opencv_own_code: None, tmp_path: Path) -> None:
    data = tmp_path / "ade20k"
    # A landscape and a portrait image whose longer sides round up (417 / 300 * 160 = 222.4 -> 224).
    for size, seed in (((300, 417), 0), ((209, 150), 1)):
        part = write_synthetic_dataset(
            tmp_path / f"part{seed}", "ade20k", num_train=0, num_val=1, size=size, seed=seed
        )
        for kind in ("images", "annotations"):
            for file in (part / "ADEChallengeData2016" / kind / "validation").iterdir():
                target = data / "ADEChallengeData2016" / kind / "validation" / f"{seed}_{file.name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file, target)
    (data / "ADEChallengeData2016" / "images" / "training").mkdir()
    (data / "ADEChallengeData2016" / "annotations" / "training").mkdir()
    model, weights = _model(150, tmp_path / "w.safetensors")
    root = data / "ADEChallengeData2016"
    pairs = [
        (image, root / "annotations" / "validation" / f"{image.stem}.png")
        for image in sorted((root / "images" / "validation").glob("*.jpg"))
    ]
    assert len(pairs) == 2
    expected_i, expected_u, predicted = _official_intersections_unions(model, pairs, "ade20k", 150, CROP)
    metrics = _eval_json(data, 150, weights, tmp_path / "m.json", "--eval-short-side", str(CROP))
    assert metrics["intersection"] == expected_i
    assert metrics["union"] == expected_u
    assert predicted > 1
    assert None in metrics["per_class_iou"]  # classes in no image: undefined IoU, written as null


def test_official_size() -> None:
    assert official_size(48, 96, "cityscapes") == (1024, 2048)  # whatever the image
    assert official_size(1024, 2048, "cityscapes", 512) == (512, 1024)
    assert official_size(300, 417, "ade20k") == (512, 736)  # 711.7 rounded up to a multiple of 32
    assert official_size(417, 300, "ade20k") == (736, 512)
    assert official_size(512, 512, "ade20k") == (512, 512)
    assert official_size(512, 683, "ade20k") == (512, 704)
    assert official_size(40, 50, "folder") == (40, 50)  # no official rule: the image's size
    assert official_size(40, 50, "folder", 64) == (64, 96)
