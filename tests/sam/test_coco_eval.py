"""Zero-shot SAM evaluation on a tiny COCO dataset written to disk in the real format."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from torch import Tensor

from efficientvit.errors import EfficientViTError
from efficientvit.sam.coco_eval import (
    EvalResult,
    PromptFrameAdapter,
    evaluate_coco,
    mask_center_point,
    size_class,
)

# pycocotools' mask decoding warns under numpy 2 (the copy keyword); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# ---------------------------------------------------------------------------------------------------------
# the dataset


def _rle(mask: np.ndarray) -> dict[str, Any]:
    """Compressed RLE as COCO's JSON stores it (counts as a string)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def _uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """Uncompressed RLE (counts as a list, column-major), as COCO's crowd annotations use."""
    flat = mask.astype(np.uint8).flatten(order="F")
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": counts}


def _ann(ann_id: int, image_id: int, segmentation: Any, bbox: list[float], area: float, **kw: Any) -> dict:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "segmentation": segmentation,
        "bbox": bbox,
        "area": area,
        "iscrowd": 0,
        **kw,
    }


def _write_image(path: Path, height: int, width: int, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _write_dataset(root: Path, images: list[dict], annotations: list[dict]) -> tuple[Path, Path]:
    image_dir = root / "images"
    image_dir.mkdir()
    for i, image in enumerate(images):
        _write_image(image_dir / image["file_name"], image["height"], image["width"], seed=i)
    ann_file = root / "instances.json"
    categories = [{"id": 1, "name": "thing", "supercategory": "thing"}]
    ann_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return ann_file, image_dir


def _ring(height: int, width: int) -> np.ndarray:
    """A 50x50 square ring (1600 px, medium) whose centroid lies in its hole."""
    mask = np.zeros((height, width), dtype=bool)
    mask[60:110, 90:140] = True
    mask[70:100, 100:130] = False
    return mask


@pytest.fixture
def coco_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """Four images: mixed instances (polygon, RLE, crowd, empty), none, one large triangle, only crowd."""
    ring = _ring(120, 160)
    crowd = np.zeros((120, 160), dtype=bool)
    crowd[5:40, 100:150] = True
    empty = np.zeros((120, 160), dtype=bool)
    crowd4 = np.zeros((40, 40), dtype=bool)
    crowd4[5:30, 5:30] = True
    images = [
        {"id": 1, "file_name": "a.png", "height": 120, "width": 160},
        {"id": 2, "file_name": "b.jpg", "height": 50, "width": 70},
        {"id": 3, "file_name": "c.jpg", "height": 200, "width": 150},
        {"id": 4, "file_name": "d.png", "height": 40, "width": 40},
    ]
    annotations = [
        _ann(1, 1, [[5, 5, 25, 5, 25, 25, 5, 25]], [5, 5, 20, 20], 400.0),  # polygon, small
        _ann(2, 1, _rle(ring), [90, 60, 50, 50], 1600.0),  # compressed RLE, medium
        _ann(3, 1, _uncompressed_rle(crowd), [100, 5, 50, 35], 1750.0, iscrowd=1),  # crowd
        _ann(4, 1, [[30, 60, 40, 60, 50, 60]], [30, 60, 20, 0], 0.0),  # zero area
        _ann(5, 1, _rle(empty), [0, 0, 1, 1], 1.0),  # empty mask
        _ann(6, 3, [[10, 10, 140, 10, 10, 190]], [10, 10, 130, 180], 11700.0),  # polygon, large
        _ann(7, 4, _uncompressed_rle(crowd4), [5, 5, 25, 25], 625.0, iscrowd=1),  # crowd only
    ]
    return _write_dataset(tmp_path, images, annotations)


# ---------------------------------------------------------------------------------------------------------
# predictors


class OraclePredictor:
    """Answers each prompt with the ground-truth mask it was built from; records every call."""

    def __init__(self, ann_file: Path, *, iscrowd: bool = False) -> None:
        coco = COCO(str(ann_file))
        self.by_shape: dict[tuple[int, int], list[tuple[list[float], np.ndarray]]] = {}
        for ann in coco.dataset["annotations"]:
            if ann.get("iscrowd", 0) and not iscrowd:
                continue
            info = coco.imgs[ann["image_id"]]
            x, y, w, h = ann["bbox"]
            entry = ([x, y, x + w, y + h], coco.annToMask(ann).astype(bool))
            self.by_shape.setdefault((info["height"], info["width"]), []).append(entry)
        self.image_shapes: list[tuple[int, ...]] = []
        self.batch_sizes: list[int] = []
        self.points: list[tuple[np.ndarray, np.ndarray]] = []  # (point, gt mask it fell in)

    def set_image(self, image: np.ndarray) -> None:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        self.image_shapes.append(image.shape)
        self.entries = self.by_shape[image.shape[:2]]

    def predict_torch(
        self,
        point_coords: Tensor | None,
        point_labels: Tensor | None,
        boxes: Tensor | None,
        multimask_output: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        assert multimask_output is False
        masks = []
        if boxes is not None:
            assert point_coords is None and point_labels is None and boxes.dim() == 2
            for box in boxes.tolist():
                (mask,) = [m for b, m in self.entries if np.allclose(b, box)]
                masks.append(mask)
        else:
            assert point_coords is not None and point_labels is not None
            assert point_coords.shape[1:] == (1, 2) and point_labels.tolist() == [[1]] * len(point_coords)
            for x, y in point_coords[:, 0].tolist():
                (mask,) = [m for _, m in self.entries if m[int(y), int(x)]]
                self.points.append((np.array([x, y]), mask))
                masks.append(mask)
        self.batch_sizes.append(len(masks))
        out = torch.from_numpy(np.stack(masks))[:, None]  # (B, 1, H, W)
        return out, torch.ones(out.shape[:2]), torch.zeros(out.shape[0], 1, 256, 256)


class BoxFillPredictor:
    """Answers each box prompt with the box filled as a rectangle, shifted ``shift`` pixels right."""

    def __init__(self, shift: int = 0) -> None:
        self.shift = shift

    def set_image(self, image: np.ndarray) -> None:
        self.shape = image.shape[:2]

    def predict_torch(
        self,
        point_coords: Tensor | None,
        point_labels: Tensor | None,
        boxes: Tensor | None,
        multimask_output: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        assert boxes is not None
        masks = torch.zeros(len(boxes), 1, *self.shape, dtype=torch.bool)
        for i, (x0, y0, x1, y1) in enumerate(boxes.round().long().tolist()):
            masks[i, 0, y0:y1, x0 + self.shift : x1 + self.shift] = True
        return masks, torch.ones(len(boxes), 1), torch.zeros(len(boxes), 1, 256, 256)


# ---------------------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("prompt", ["box", "point"])
def test_oracle_scores_one(coco_dataset: tuple[Path, Path], prompt: str) -> None:
    ann_file, image_dir = coco_dataset
    predictor = OraclePredictor(ann_file)
    result = evaluate_coco(predictor, ann_file, image_dir, prompt=prompt)
    assert isinstance(result, EvalResult)
    assert result.miou == 1.0
    assert result.count == 3 and result.num_images == 2
    assert [r.annotation_id for r in result.per_instance] == [1, 2, 6]
    assert all(r.iou == 1.0 for r in result.per_instance)


def test_known_iou_box_fill(tmp_path: Path) -> None:
    """Square 20x20 and a 55-pixel triangle in a 10x10 box, prompted by box, answered by the filled box."""
    square = np.zeros((100, 100), dtype=bool)
    square[10:30, 10:30] = True
    rows, cols = np.mgrid[0:10, 0:10]
    triangle = np.zeros((100, 100), dtype=bool)
    triangle[50:60, 50:60] = cols <= rows  # 55 px
    images = [{"id": 1, "file_name": "k.png", "height": 100, "width": 100}]
    annotations = [
        _ann(1, 1, _rle(square), [10, 10, 20, 20], 400.0),
        _ann(2, 1, _rle(triangle), [50, 50, 10, 10], 55.0),
    ]
    ann_file, image_dir = _write_dataset(tmp_path, images, annotations)

    result = evaluate_coco(BoxFillPredictor(), ann_file, image_dir, prompt="box")
    assert [r.iou for r in result.per_instance] == pytest.approx([1.0, 55 / 100])
    assert result.miou == pytest.approx((1.0 + 0.55) / 2)

    # shifted 5 px right: square 15*20 / (400 + 400 - 300); triangle keeps 1+2+3+4+5 = 15 px of 55 + 100 - 15
    result = evaluate_coco(BoxFillPredictor(shift=5), ann_file, image_dir, prompt="box")
    assert [r.iou for r in result.per_instance] == pytest.approx([0.6, 15 / 140])
    assert result.miou == pytest.approx((0.6 + 15 / 140) / 2)


def test_images_without_usable_annotations_are_skipped(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    predictor = OraclePredictor(ann_file)
    evaluate_coco(predictor, ann_file, image_dir, prompt="box")
    # b.jpg (no annotations) and d.png (only crowd) never reach the predictor
    assert predictor.image_shapes == [(120, 160, 3), (200, 150, 3)]
    # all usable instances of an image in one call: a.png has 2 (crowd, zero-area and empty masks dropped)
    assert predictor.batch_sizes == [2, 1]


def test_crowd_annotations_ignored_or_included(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    result = evaluate_coco(OraclePredictor(ann_file), ann_file, image_dir, prompt="box")
    assert 3 not in [r.annotation_id for r in result.per_instance]
    predictor = OraclePredictor(ann_file, iscrowd=True)
    result = evaluate_coco(predictor, ann_file, image_dir, prompt="box", iscrowd="include")
    assert [r.annotation_id for r in result.per_instance] == [1, 2, 3, 6, 7]
    assert result.miou == 1.0 and result.num_images == 3


def test_size_buckets(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    result = evaluate_coco(OraclePredictor(ann_file), ann_file, image_dir, prompt="box")
    assert (result.count_small, result.count_medium, result.count_large) == (1, 1, 1)
    assert [r.size for r in result.per_instance] == ["small", "medium", "large"]
    assert result.miou_small == result.miou_medium == result.miou_large == 1.0
    sizes = [size_class(a) for a in (0, 1023, 1024, 9215, 9216)]
    assert sizes == ["small", "small", "medium", "medium", "large"]


def test_empty_size_class_is_nan_and_table(tmp_path: Path) -> None:
    square = np.zeros((100, 100), dtype=bool)
    square[10:30, 10:30] = True
    images = [{"id": 1, "file_name": "k.png", "height": 100, "width": 100}]
    ann_file, image_dir = _write_dataset(
        tmp_path, images, [_ann(1, 1, _rle(square), [10, 10, 20, 20], 400.0)]
    )
    result = evaluate_coco(BoxFillPredictor(), ann_file, image_dir)
    assert result.miou == result.miou_small == 1.0
    assert math.isnan(result.miou_medium) and math.isnan(result.miou_large)
    table = result.format_table()
    assert "box prompts" in table and "100.00" in table and "nan" in table


def test_point_prompts_lie_inside_masks(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    predictor = OraclePredictor(ann_file)
    evaluate_coco(predictor, ann_file, image_dir, prompt="point")
    assert len(predictor.points) == 3
    for (x, y), mask in predictor.points:
        assert x == int(x) and y == int(y) and mask[int(y), int(x)]
    # the ring's centroid is in its hole; the point must be on the ring, not the hole
    ring_point = predictor.points[1][0]
    assert _ring(120, 160)[int(ring_point[1]), int(ring_point[0])]


@pytest.mark.parametrize("scipy", [True, False])
def test_mask_center_point(monkeypatch: pytest.MonkeyPatch, scipy: bool) -> None:
    if not scipy:
        monkeypatch.setitem(sys.modules, "scipy.ndimage", None)  # import raises ImportError
    square = np.zeros((20, 20), dtype=bool)
    square[4:9, 10:15] = True  # 5x5, centre pixel (x=12, y=6)
    assert mask_center_point(square) == (12, 6)
    ring = _ring(120, 160)
    x, y = mask_center_point(ring)
    assert ring[y, x]
    u_shape = np.zeros((30, 30), dtype=bool)
    u_shape[5:25, 5:10] = u_shape[5:25, 20:25] = u_shape[20:25, 5:25] = True
    x, y = mask_center_point(u_shape)
    assert u_shape[y, x]
    with pytest.raises(ValueError, match="non-empty"):
        mask_center_point(np.zeros((4, 4), dtype=bool))


def test_max_images(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    predictor = OraclePredictor(ann_file)
    result = evaluate_coco(predictor, ann_file, image_dir, max_images=1)
    assert result.num_images == 1 and result.count == 2
    assert predictor.image_shapes == [(120, 160, 3)]


def test_missing_annotation_file(tmp_path: Path) -> None:
    with pytest.raises(EfficientViTError, match=r"annotation file .* does not exist"):
        evaluate_coco(BoxFillPredictor(), tmp_path / "nope.json", tmp_path)


def test_missing_image_dir(coco_dataset: tuple[Path, Path], tmp_path: Path) -> None:
    ann_file, _ = coco_dataset
    with pytest.raises(EfficientViTError, match=r"image folder .* does not exist"):
        evaluate_coco(BoxFillPredictor(), ann_file, tmp_path / "no-images")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level is not an object"),
        ('{"images": []}', "no 'annotations' list"),
        ('{"images": [{"id": 1}], "annotations": []}', "image entry lacks file_name, height, width"),
        (
            json.dumps({"images": [], "annotations": [_ann(1, 9, [], [0, 0, 1, 1], 1.0)]}),
            "refers to image 9",
        ),
    ],
)
def test_not_coco_format(tmp_path: Path, content: str, message: str) -> None:
    ann_file = tmp_path / "bad.json"
    ann_file.write_text(content)
    with pytest.raises(EfficientViTError, match=message):
        evaluate_coco(BoxFillPredictor(), ann_file, tmp_path)


def test_missing_and_corrupt_image(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    (image_dir / "a.png").write_bytes(b"not a png")
    with pytest.raises(EfficientViTError, match=r"a\.png cannot be read"):
        evaluate_coco(OraclePredictor(ann_file), ann_file, image_dir)
    (image_dir / "a.png").unlink()
    with pytest.raises(EfficientViTError, match=r"a\.png does not exist"):
        evaluate_coco(OraclePredictor(ann_file), ann_file, image_dir)


def test_image_size_mismatch(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    _write_image(image_dir / "a.png", 10, 10, seed=0)
    with pytest.raises(EfficientViTError, match="10x10 but its annotation says 160x120"):
        evaluate_coco(OraclePredictor(ann_file), ann_file, image_dir)


def test_bad_arguments_and_bad_predictor(coco_dataset: tuple[Path, Path]) -> None:
    ann_file, image_dir = coco_dataset
    with pytest.raises(EfficientViTError, match="unknown prompt"):
        evaluate_coco(BoxFillPredictor(), ann_file, image_dir, prompt="mask")  # type: ignore[arg-type]
    with pytest.raises(EfficientViTError, match="max_images"):
        evaluate_coco(BoxFillPredictor(), ann_file, image_dir, max_images=0)

    class WrongShape(BoxFillPredictor):
        def predict_torch(self, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, Tensor]:
            masks, scores, logits = super().predict_torch(*args, **kwargs)
            return masks[:, 0], scores, logits

    with pytest.raises(EfficientViTError, match="predictor returned masks of shape"):
        evaluate_coco(WrongShape(), ann_file, image_dir)


def test_no_usable_annotations(tmp_path: Path) -> None:
    images = [{"id": 1, "file_name": "k.png", "height": 10, "width": 10}]
    ann_file, image_dir = _write_dataset(tmp_path, images, [])
    with pytest.raises(EfficientViTError, match="no usable instance annotations"):
        evaluate_coco(BoxFillPredictor(), ann_file, image_dir)


class _FrameRecorder:
    """A predictor in segment-anything's convention that records the prompt-frame inputs it receives."""

    device = torch.device("cpu")

    def set_image(self, image: np.ndarray) -> None:
        self.original_size = image.shape[:2]

    def predict_torch(
        self,
        point_coords: Tensor | None,
        point_labels: Tensor | None,
        boxes: Tensor | None = None,
        mask_input: Tensor | None = None,
        multimask_output: bool = True,
    ) -> tuple[Tensor, Tensor, Tensor]:
        self.received = (point_coords, point_labels, boxes, multimask_output)
        batch = len(boxes) if boxes is not None else len(point_coords)  # type: ignore[arg-type]
        masks = torch.ones(batch, 1, *self.original_size, dtype=torch.bool)
        return masks, torch.ones(batch, 1), torch.zeros(batch, 1, 256, 256)


class _EfficientViTStyle(_FrameRecorder):
    def transform_coords(self, coords: Tensor) -> Tensor:
        return coords * 2

    def transform_boxes(self, boxes: Tensor) -> Tensor:
        return boxes * 2


class _SegmentAnythingStyle(_FrameRecorder):
    def __init__(self) -> None:
        from segment_anything.utils.transforms import ResizeLongestSide

        self.transform = ResizeLongestSide(64)


@pytest.mark.parametrize(("inner", "scale"), [(_EfficientViTStyle, 2.0), (_SegmentAnythingStyle, 64 / 160)])
def test_prompt_frame_adapter(inner: type[_FrameRecorder], scale: float) -> None:
    if inner is _SegmentAnythingStyle:
        pytest.importorskip("segment_anything")
    predictor = inner()
    adapter = PromptFrameAdapter(predictor)
    adapter.set_image(np.zeros((120, 160, 3), dtype=np.uint8))
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    masks, _, _ = adapter.predict_torch(None, None, boxes, multimask_output=False)
    assert masks.shape == (1, 1, 120, 160)
    torch.testing.assert_close(predictor.received[2], boxes * scale)
    assert predictor.received[3] is False
    points, labels = torch.tensor([[[16.0, 8.0]]]), torch.ones(1, 1, dtype=torch.int64)
    adapter.predict_torch(points, labels, None, multimask_output=False)
    torch.testing.assert_close(predictor.received[0], points * scale)
    assert predictor.received[1] is not None and predictor.received[1].tolist() == [[1]]


def test_with_efficientvit_sam_predictor(coco_dataset: tuple[Path, Path]) -> None:
    """End to end with the real predictor (random weights): the adapter wiring and shapes, not the score."""
    from efficientvit.sam import SamPredictor
    from efficientvit.zoo import create_model

    ann_file, image_dir = coco_dataset
    torch.manual_seed(0)
    predictor = PromptFrameAdapter(SamPredictor(create_model("efficientvit-sam-l0").eval()))
    for prompt in ("box", "point"):
        result = evaluate_coco(predictor, ann_file, image_dir, prompt=prompt, max_images=1)
        assert result.count == 2 and 0.0 <= result.miou <= 1.0
