"""SamAutomaticMaskGenerator: output format, batched prompting, errors, and the benchmark's smoke run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from segment_anything.utils.amg import rle_to_mask

from efficientvit.errors import EfficientViTError
from efficientvit.sam import SamAutomaticMaskGenerator, SamPredictor

HEIGHT, WIDTH = 120, 160
# Low thresholds so that random (recipe) weights still yield masks; no NMS so that many masks come out.
SETTINGS = {
    "points_per_side": 4,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
    "box_nms_thresh": 1.0,
}
KEYS = {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"}


@pytest.fixture(scope="module")
def model(sam_l0: torch.nn.Module) -> torch.nn.Module:
    return sam_l0


@pytest.fixture(scope="module")
def image(sample_photo) -> np.ndarray:
    """scikit-image's astronaut photo (512x512) downscaled to 120x160, (H, W, 3) uint8."""
    return sample_photo("astronaut", HEIGHT, WIDTH)


@pytest.fixture(scope="module")
def binary_masks(model: torch.nn.Module, image: np.ndarray) -> list[dict]:
    return SamAutomaticMaskGenerator(model, **SETTINGS).generate(image)


def test_binary_mask_output(binary_masks: list[dict]) -> None:
    assert binary_masks
    for ann in binary_masks:
        assert set(ann) == KEYS
        mask = ann["segmentation"]
        assert isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (HEIGHT, WIDTH)
        assert isinstance(ann["area"], int) and ann["area"] == int(mask.sum())
        assert isinstance(ann["predicted_iou"], float) and isinstance(ann["stability_score"], float)
        assert ann["crop_box"] == [0, 0, WIDTH, HEIGHT]
        (x, y, w, h), ((px, py),) = ann["bbox"], ann["point_coords"]
        assert all(isinstance(v, int) for v in (x, y, w, h)) and 0 <= px < WIDTH and 0 <= py < HEIGHT
        ys, xs = np.nonzero(mask)
        assert [x, y, w, h] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_coco_rle_output_decodes_to_the_binary_masks(
    model: torch.nn.Module, image: np.ndarray, binary_masks: list[dict]
) -> None:
    mask_utils = pytest.importorskip("pycocotools.mask")
    predictor = SamPredictor(model)
    coco = SamAutomaticMaskGenerator(predictor, output_mode="coco_rle", **SETTINGS).generate(image)
    assert len(coco) == len(binary_masks)
    for ann, expected in zip(coco, binary_masks, strict=True):
        assert set(ann) == KEYS
        rle = ann["segmentation"]
        assert rle["size"] == [HEIGHT, WIDTH] and isinstance(rle["counts"], str)
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), expected["segmentation"])
        assert ann["area"] == expected["area"] and ann["bbox"] == expected["bbox"]
    uncompressed = SamAutomaticMaskGenerator(predictor, output_mode="uncompressed_rle", **SETTINGS)
    for ann, expected in zip(uncompressed.generate(image), binary_masks, strict=True):
        np.testing.assert_array_equal(rle_to_mask(ann["segmentation"]), expected["segmentation"])


@pytest.mark.parametrize(("backend", "method"), [("eager", "decode"), ("fused", "decode_masks")])
def test_points_run_in_batches(
    model: torch.nn.Module, image: np.ndarray, monkeypatch: pytest.MonkeyPatch, backend: str, method: str
) -> None:
    """16 grid points with points_per_batch=5: four decoder calls of 5, 5, 5 and 1 prompts, through the
    whole decoder (eager) or the many-prompt decoder (fused, what auto runs on a CPU)."""
    generator = SamAutomaticMaskGenerator(model, points_per_batch=5, backend=backend, **SETTINGS)
    batch_sizes: list[int] = []
    original = getattr(generator.predictor, method)

    def spy(point_coords: torch.Tensor, *args: object, **kwargs: object) -> object:
        batch_sizes.append(point_coords.shape[0])
        return original(point_coords, *args, **kwargs)

    monkeypatch.setattr(generator.predictor, method, spy)
    generator.generate(image)
    assert batch_sizes == [5, 5, 5, 1]


def test_batched_points_equal_single_point_calls(model: torch.nn.Module, image: np.ndarray) -> None:
    predictor = SamPredictor(model)
    predictor.set_image(image)
    grid = torch.tensor(SamAutomaticMaskGenerator(predictor, **SETTINGS).point_grids[0], dtype=torch.float32)
    points = predictor.transform_coords(grid * torch.tensor([WIDTH, HEIGHT]))[:, None, :]  # (16, 1, 2)
    labels = torch.ones(points.shape[:2], dtype=torch.int64)  # (16, 1)
    _, scores, low_res = predictor.predict_torch(points, labels, return_logits=True)
    assert low_res.shape == (16, 3, 256, 256)
    for i in range(points.shape[0]):
        _, one_score, one = predictor.predict_torch(points[i : i + 1], labels[i : i + 1], return_logits=True)
        torch.testing.assert_close(low_res[i : i + 1], one, atol=1e-5, rtol=0)
        torch.testing.assert_close(scores[i : i + 1], one_score, atol=1e-5, rtol=0)


def test_nms_and_crop_layers(model: torch.nn.Module, image: np.ndarray, binary_masks: list[dict]) -> None:
    """Box NMS keeps a subset of the masks; a crop layer adds crops and keeps integer XYWH boxes."""
    settings = {**SETTINGS, "box_nms_thresh": 0.7}
    kept = SamAutomaticMaskGenerator(model, **settings).generate(image)
    assert 0 < len(kept) < len(binary_masks)
    assert {str(ann["point_coords"]) for ann in kept} <= {str(ann["point_coords"]) for ann in binary_masks}
    cropped = SamAutomaticMaskGenerator(model, **{**settings, "points_per_side": 2, "crop_n_layers": 1})
    for ann in cropped.generate(image):
        assert ann["segmentation"].shape == (HEIGHT, WIDTH)
        assert all(isinstance(v, int) for v in ann["bbox"] + ann["crop_box"])


def test_thresholds_filter_everything(model: torch.nn.Module, image: np.ndarray) -> None:
    generator = SamAutomaticMaskGenerator(model, points_per_side=2, pred_iou_thresh=1e9)
    assert generator.generate(image) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_mode": "png"}, "output_mode"),
        ({"points_per_side": 0}, "points_per_side"),
        ({"points_per_batch": 0}, "points_per_batch"),
        ({"points_per_side": None}, "exactly one"),
    ],
)
def test_bad_settings_raise(model: torch.nn.Module, kwargs: dict, message: str) -> None:
    with pytest.raises(EfficientViTError, match=message):
        SamAutomaticMaskGenerator(model, **kwargs)


def test_bad_image_raises(model: torch.nn.Module) -> None:
    with pytest.raises(EfficientViTError, match="uint8"):
        SamAutomaticMaskGenerator(model, points_per_side=2).generate(np.zeros((8, 8, 3), dtype=np.float32))


def test_min_mask_region_area_needs_opencv(model: torch.nn.Module) -> None:
    if importlib.util.find_spec("cv2") is not None:
        pytest.skip("OpenCV is installed")
    with pytest.raises(EfficientViTError, match="pip install opencv-python-headless"):
        SamAutomaticMaskGenerator(model, min_mask_region_area=10)


def test_generate_accepts_a_tensor(model: torch.nn.Module, image: np.ndarray) -> None:
    generator = SamAutomaticMaskGenerator(
        model, points_per_side=1, **{k: 0.0 for k in ("pred_iou_thresh", "stability_score_thresh")}
    )
    from_array = generator.generate(image)
    from_tensor = generator.generate(torch.from_numpy(image).permute(2, 0, 1))
    assert [a["bbox"] for a in from_array] == [a["bbox"] for a in from_tensor]


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from efficientvit.benchmark.sam_automatic import main

    main(["--points-per-side", "2", "--repeats", "1", "--warmup", "0", "--height", "64", "--width", "96"])
    out = capsys.readouterr().out
    assert "points_per_batch=64" in out and "points_per_batch=1" in out and "torch" in out


def test_constructor_takes_segment_anythings_arguments_and_defaults(
    model: torch.nn.Module,
) -> None:
    import inspect

    segment_anything = pytest.importorskip("segment_anything")
    theirs = inspect.signature(segment_anything.SamAutomaticMaskGenerator.__init__).parameters
    ours = inspect.signature(SamAutomaticMaskGenerator.__init__).parameters
    for name, parameter in theirs.items():
        assert name in ours, name
        assert ours[name].default == parameter.default or name == "crop_overlap_ratio", name
    assert ours["crop_overlap_ratio"].default == pytest.approx(theirs["crop_overlap_ratio"].default)
    generator = SamAutomaticMaskGenerator(model=model, points_per_side=2, min_mask_region_area=0)
    assert generator.postprocess_small_regions is SamAutomaticMaskGenerator.postprocess_small_regions


@pytest.mark.parametrize("backend", ["eager", "fused"])
def test_user_points_replace_the_grid(model: torch.nn.Module, image: np.ndarray, backend: str) -> None:
    """The grid's own points given as ``points`` (in pixels) give the grid's masks."""
    generator = SamAutomaticMaskGenerator(model, backend=backend, **SETTINGS)
    grid = generator.point_grids[0] * np.array([WIDTH, HEIGHT])  # (16, 2) (x, y) pixels
    from_points = generator.generate(image, points=grid)
    from_grid = generator.generate(image)
    assert len(from_points) == len(from_grid) > 0
    for a, b in zip(from_points, from_grid, strict=True):
        assert a["point_coords"] == b["point_coords"] and a["bbox"] == b["bbox"]
        np.testing.assert_array_equal(a["segmentation"], b["segmentation"])


@pytest.mark.parametrize("backend", ["eager", "fused"])
def test_user_boxes_give_one_mask_each(model: torch.nn.Module, image: np.ndarray, backend: str) -> None:
    """Each box is one prompt with one mask: the predictor's single-mask output for that box."""
    boxes = np.array([[10.0, 20.0, 90.0, 100.0], [60.0, 5.0, 150.0, 70.0], [0.0, 0.0, 159.0, 119.0]])
    annotations = SamAutomaticMaskGenerator(model, backend=backend, **SETTINGS).generate(image, boxes=boxes)
    predictor = SamPredictor(model, backend="eager")
    predictor.set_image(image)
    assert 0 < len(annotations) <= len(boxes)
    for annotation in annotations:
        assert annotation["point_coords"] == [] and set(annotation) == KEYS | {"box_prompt"}
        masks, scores, _ = predictor.predict(box=np.array(annotation["box_prompt"]), multimask_output=False)
        assert (annotation["segmentation"] == masks[0]).mean() >= 0.999
        assert abs(annotation["predicted_iou"] - float(scores[0])) < 1e-4
    assert {tuple(a["box_prompt"]) for a in annotations} <= {tuple(b) for b in boxes.tolist()}


def test_user_prompts_are_checked(model: torch.nn.Module, image: np.ndarray) -> None:
    generator = SamAutomaticMaskGenerator(model, **SETTINGS)
    assert generator.generate(image, boxes=np.zeros((0, 4))) == []
    cases = {
        "not both": {"points": np.zeros((1, 2)), "boxes": np.zeros((1, 4))},
        "shape \\(P, 2\\)": {"points": np.zeros((3, 3))},
        "shape \\(P, 4\\)": {"boxes": np.zeros(4)},
        "NaN": {"points": np.array([[np.nan, 1.0]])},
        "x0 <= x1": {"boxes": np.array([[50.0, 0.0, 10.0, 20.0]])},
        "must be numbers": {"points": [["a", "b"]]},
    }
    for message, prompts in cases.items():
        with pytest.raises(EfficientViTError, match=message):
            generator.generate(image, **prompts)
    with pytest.raises(EfficientViTError, match="crop_n_layers=0"):
        SamAutomaticMaskGenerator(model, crop_n_layers=1, **SETTINGS).generate(image, points=np.zeros((1, 2)))


def test_run_length_encodings_equal_segment_anythings() -> None:
    from segment_anything.utils.amg import mask_to_rle_pytorch

    from efficientvit.sam.automatic import masks_to_rle

    generator = torch.Generator().manual_seed(0)
    logits = torch.nn.functional.interpolate(torch.randn(6, 1, 5, 7, generator=generator), (30, 41))
    masks = logits[:, 0] > 0.2  # (6, 30, 41) blobs
    masks[0], masks[1] = True, False  # one run of ones, one run of zeros
    masks[2, 0, 0], masks[3, -1, -1] = True, True  # runs at both ends
    assert masks_to_rle(masks) == mask_to_rle_pytorch(masks)
    assert masks_to_rle(masks[:0]) == []
