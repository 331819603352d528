"""Zero-shot instance segmentation of SAM-style models on COCO-format annotations.

The protocol of the EfficientViT-SAM paper (and of segment-anything): every ground-truth instance is
prompted either with its ground-truth box or with one foreground point at the mask's centre; the model
answers with a single mask; the score is the mean IoU with the ground-truth masks, overall and per
COCO size class (small < 32², medium < 96², large otherwise, by the annotation's ``area``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from efficientvit.errors import EfficientViTError
from efficientvit.extras import require
from efficientvit.files import regular_file
from efficientvit.metrics import mask_iou

__all__ = [
    "EvalResult",
    "InstanceResult",
    "PromptFrameAdapter",
    "PromptPredictor",
    "evaluate_coco",
    "mask_center_point",
    "size_class",
]

PromptKind = Literal["box", "point"]
SizeClass = Literal["small", "medium", "large"]

SMALL_AREA = 32**2
MEDIUM_AREA = 96**2


class PromptPredictor(Protocol):
    """A promptable segmenter (segment-anything's ``SamPredictor`` shape), in original-image pixels.

    ``set_image`` takes an (H, W, 3) uint8 RGB image. ``predict_torch`` takes points (B, N, 2) as (x, y),
    point labels (B, N) (1 foreground, 0 background) and boxes (B, 4) as XYXY, all in the pixel
    coordinates of that image, and returns masks (B, C, H, W) bool, scores (B, C) and low-res logits.
    Wrap a segment-anything-style predictor (prompts in the resized frame) in :class:`PromptFrameAdapter`.
    """

    def set_image(self, image: np.ndarray) -> None: ...

    def predict_torch(
        self,
        point_coords: Tensor | None,
        point_labels: Tensor | None,
        boxes: Tensor | None,
        multimask_output: bool,
    ) -> tuple[Tensor, Tensor, Tensor]: ...


class PromptFrameAdapter:
    """A :class:`PromptPredictor` over a segment-anything-style predictor whose ``predict_torch`` takes
    prompts in the model's resized prompt frame (``efficientvit.sam.predictor.SamPredictor`` or
    ``segment_anything.SamPredictor``): prompts are mapped from original pixels and moved to its device.
    """

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor

    def set_image(self, image: np.ndarray) -> None:
        self.predictor.set_image(image)

    def _to_frame(self, values: Tensor, kind: Literal["coords", "boxes"]) -> Tensor:
        p = self.predictor
        device = getattr(p, "device", values.device)
        if hasattr(p, f"transform_{kind}"):  # efficientvit's SamPredictor
            values = getattr(p, f"transform_{kind}")(values)
        else:  # segment_anything's SamPredictor: a ResizeLongestSide transform and the original size
            values = getattr(p.transform, f"apply_{kind}_torch")(values, p.original_size)
        return values.to(device)

    def predict_torch(
        self,
        point_coords: Tensor | None,
        point_labels: Tensor | None,
        boxes: Tensor | None,
        multimask_output: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        if point_coords is not None:
            point_coords = self._to_frame(point_coords, "coords")
        if point_labels is not None:
            point_labels = point_labels.to(getattr(self.predictor, "device", point_labels.device))
        if boxes is not None:
            boxes = self._to_frame(boxes, "boxes")
        return self.predictor.predict_torch(
            point_coords, point_labels, boxes, multimask_output=multimask_output
        )


@dataclass(frozen=True)
class InstanceResult:
    """The score of one ground-truth instance."""

    image_id: int
    annotation_id: int
    category_id: int
    area: float
    size: SizeClass
    iou: float


@dataclass
class EvalResult:
    """Mean IoU over instances, overall and per COCO size class (NaN where a class has no instance)."""

    prompt: PromptKind
    miou: float
    miou_small: float
    miou_medium: float
    miou_large: float
    count: int
    count_small: int
    count_medium: int
    count_large: int
    num_images: int
    per_instance: list[InstanceResult] = field(default_factory=list, repr=False)

    @classmethod
    def from_instances(
        cls, instances: list[InstanceResult], *, prompt: PromptKind, num_images: int
    ) -> EvalResult:
        """Reduce per-instance scores to the summary."""

        def mean(values: list[float]) -> float:
            return float(np.mean(values)) if values else math.nan

        by_size = {s: [r.iou for r in instances if r.size == s] for s in ("small", "medium", "large")}
        return cls(
            prompt=prompt,
            miou=mean([r.iou for r in instances]),
            miou_small=mean(by_size["small"]),
            miou_medium=mean(by_size["medium"]),
            miou_large=mean(by_size["large"]),
            count=len(instances),
            count_small=len(by_size["small"]),
            count_medium=len(by_size["medium"]),
            count_large=len(by_size["large"]),
            num_images=num_images,
            per_instance=list(instances),
        )

    def format_table(self) -> str:
        """A plain-text table: mIoU in percent and instance counts, overall and by size."""
        rows = [
            ("all", self.miou, self.count),
            ("small", self.miou_small, self.count_small),
            ("medium", self.miou_medium, self.count_medium),
            ("large", self.miou_large, self.count_large),
        ]
        lines = [f"SAM zero-shot, {self.prompt} prompts, {self.num_images} images", "size    mIoU(%)  count"]
        lines += [f"{name:<7} {100 * value:>7.2f}  {count:>5d}" for name, value, count in rows]
        return "\n".join(lines)


def size_class(area: float) -> SizeClass:
    """COCO's size class of an annotation area: small < 32², medium < 96², large otherwise."""
    if area < SMALL_AREA:
        return "small"
    if area < MEDIUM_AREA:
        return "medium"
    return "large"


def mask_center_point(mask: np.ndarray) -> tuple[int, int]:
    """One foreground pixel at the centre of a binary (H, W) mask, as (x, y) pixel indices.

    The pixel farthest from the background (the maximum of the Euclidean distance transform, so it lies
    inside the mask even for rings and U shapes), ties broken by nearness to the mask's centroid. Without
    scipy, the foreground pixel nearest the centroid.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("mask_center_point needs a non-empty mask")
    cy, cx = ys.mean(), xs.mean()
    to_centroid = (ys - cy) ** 2 + (xs - cx) ** 2
    try:
        from scipy.ndimage import distance_transform_edt
    except ImportError:
        best = int(np.argmin(to_centroid))
    else:
        # pad so that the image border counts as background
        depth = distance_transform_edt(np.pad(mask.astype(bool), 1))[1:-1, 1:-1][ys, xs]
        candidates = np.flatnonzero(depth == depth.max())
        best = int(candidates[np.argmin(to_centroid[candidates])])
    return int(xs[best]), int(ys[best])


def evaluate_coco(
    predictor: PromptPredictor,
    annotation_file: str | Path,
    image_dir: str | Path,
    *,
    prompt: PromptKind = "box",
    max_images: int | None = None,
    iscrowd: Literal["skip", "include"] = "skip",
    device: torch.device | str | None = None,
    progress: bool = False,
) -> EvalResult:
    """Prompt ``predictor`` with each ground-truth instance of a COCO-format dataset and score its masks.

    Args:
        predictor: the model behind :class:`PromptPredictor`.
        annotation_file: COCO instances JSON (``images``, ``annotations``; polygon or RLE segmentations).
        image_dir: folder holding the images, by each image's ``file_name``.
        prompt: ``"box"`` (ground-truth box, XYWH -> XYXY) or ``"point"`` (one foreground point at the
            centre of the mask, see :func:`mask_center_point`).
        max_images: evaluate only the first this many images (by image id) that have usable annotations.
        iscrowd: ``"skip"`` crowd annotations (the paper's protocol) or ``"include"`` them.
        device: where prompt tensors are placed (default CPU); the predictor may move them.
        progress: show a progress bar.

    Images without usable annotations (none, only crowd, only empty masks) are skipped without calling the
    predictor. All instances of one image go to the predictor in one ``predict_torch`` call with
    ``multimask_output=False``.
    """
    if prompt not in ("box", "point"):
        raise EfficientViTError(f"unknown prompt {prompt!r}: use 'box' or 'point'")
    if iscrowd not in ("skip", "include"):
        raise EfficientViTError(f"unknown iscrowd mode {iscrowd!r}: use 'skip' or 'include'")
    if max_images is not None and max_images < 1:
        raise EfficientViTError(f"max_images must be at least 1, got {max_images}")
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise EfficientViTError(
            f"image folder {image_dir} does not exist: pass the folder of the COCO images"
        )
    coco = _load_coco(Path(annotation_file))

    image_ids = sorted(coco.imgs)
    if progress:
        from tqdm import tqdm

        image_ids = tqdm(image_ids, desc=f"SAM COCO eval ({prompt})", unit="img")
    instances: list[InstanceResult] = []
    num_images = 0
    for image_id in image_ids:
        if max_images is not None and num_images >= max_images:
            break
        info = coco.imgs[image_id]
        anns, masks = _usable_annotations(coco, image_id, iscrowd=iscrowd)
        if not anns:
            continue
        image = _read_image(image_dir / str(info["file_name"]), int(info["height"]), int(info["width"]))
        gt = torch.from_numpy(np.stack(masks)).bool()  # (B, H, W)
        pred = _predict(predictor, image, anns, masks, prompt=prompt, device=device)
        ious = mask_iou(pred, gt).tolist()
        for ann, mask, iou in zip(anns, masks, ious, strict=True):
            area = float(ann["area"]) if "area" in ann else float(mask.sum())
            instances.append(
                InstanceResult(
                    image_id=int(image_id),
                    annotation_id=int(ann["id"]),
                    category_id=int(ann.get("category_id", -1)),
                    area=area,
                    size=size_class(area),
                    iou=float(iou),
                )
            )
        num_images += 1
    if not instances:
        raise EfficientViTError(
            f"{annotation_file} has no usable instance annotations (non-crowd, non-empty masks) to evaluate"
        )
    return EvalResult.from_instances(instances, prompt=prompt, num_images=num_images)


def _load_coco(path: Path) -> Any:
    """Read and check a COCO instances file; a pycocotools ``COCO`` with its index built."""
    COCO = require("pycocotools.coco", "COCO evaluation").COCO
    if not path.exists():
        raise EfficientViTError(f"annotation file {path} does not exist: pass a COCO instances JSON file")
    regular_file(path, "COCO annotation file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EfficientViTError(f"annotation file {path} is not valid JSON: {e}") from e
    _check_coco_format(data, path)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco.createIndex()
    return coco


def _check_coco_format(data: Any, path: Path) -> None:
    """Raise a one-line error naming the first way ``data`` is not a COCO instances file."""
    hint = "expected a COCO instances file with 'images' and 'annotations' lists"
    if not isinstance(data, dict):
        raise EfficientViTError(f"{path} is not COCO format: the top level is not an object; {hint}")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise EfficientViTError(f"{path} is not COCO format: no {key!r} list; {hint}")
    image_ids = set()
    for image in data["images"]:
        missing = _missing_keys(image, ("id", "file_name", "height", "width"))
        if missing:
            raise EfficientViTError(f"{path} is not COCO format: an image entry lacks {', '.join(missing)}")
        image_ids.add(image["id"])
    for ann in data["annotations"]:
        missing = _missing_keys(ann, ("id", "image_id", "bbox", "segmentation"))
        if missing:
            raise EfficientViTError(f"{path} is not COCO format: an annotation lacks {', '.join(missing)}")
        if ann["image_id"] not in image_ids:
            raise EfficientViTError(
                f"{path}: annotation {ann['id']} refers to image {ann['image_id']}, which is not in 'images'"
            )
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise EfficientViTError(
                f"{path}: annotation {ann['id']} has bbox {bbox!r}, expected [x, y, w, h]"
            )


def _missing_keys(entry: Any, keys: Iterable[str]) -> list[str]:
    if not isinstance(entry, dict):
        return list(keys)
    return [key for key in keys if key not in entry]


def _usable_annotations(
    coco: Any, image_id: int, *, iscrowd: Literal["skip", "include"]
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """The image's annotations worth a prompt and their (H, W) uint8 masks."""
    anns, masks = [], []
    for ann in coco.imgToAnns.get(image_id, []):
        if iscrowd == "skip" and ann.get("iscrowd", 0):
            continue
        if "area" in ann and float(ann["area"]) <= 0:
            continue
        try:
            with warnings.catch_warnings():  # pycocotools' numpy-2 copy-keyword DeprecationWarning
                warnings.simplefilter("ignore", DeprecationWarning)
                mask = coco.annToMask(ann)
        except Exception as e:  # pycocotools raises assorted errors on malformed segmentations
            raise EfficientViTError(
                f"annotation {ann['id']} of image {image_id} has a malformed segmentation: {e}"
            ) from e
        if not mask.any():
            continue
        anns.append(ann)
        masks.append(mask.astype(bool))
    return anns, masks


def _read_image(path: Path, height: int, width: int) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image, checked against the size the annotations expect."""
    if not path.is_file():
        raise EfficientViTError(f"image {path} does not exist: check the image folder and the 'file_name'")
    try:
        with Image.open(path) as img:
            image = np.array(img.convert("RGB"), dtype=np.uint8)  # writable, for torch.from_numpy
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise EfficientViTError(f"image {path} cannot be read ({e}): it is missing or corrupt") from e
    if image.shape[:2] != (height, width):
        raise EfficientViTError(
            f"image {path} is {image.shape[1]}x{image.shape[0]} but its annotation says {width}x{height}"
        )
    return image


def _predict(
    predictor: PromptPredictor,
    image: np.ndarray,
    anns: list[dict[str, Any]],
    masks: list[np.ndarray],
    *,
    prompt: PromptKind,
    device: torch.device | str | None,
) -> Tensor:
    """One batched ``predict_torch`` call for all instances of an image; (B, H, W) bool masks on CPU."""
    points = labels = boxes = None
    if prompt == "box":
        xywh = torch.tensor([ann["bbox"] for ann in anns], dtype=torch.float32, device=device)  # (B, 4)
        boxes = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)  # (B, 4) XYXY
    else:
        centres = [mask_center_point(mask) for mask in masks]
        points = torch.tensor(centres, dtype=torch.float32, device=device)[:, None, :]  # (B, 1, 2) as (x, y)
        labels = torch.ones(points.shape[:2], dtype=torch.int64, device=device)  # (B, 1)
    predictor.set_image(image)
    with torch.inference_mode():
        pred, _, _ = predictor.predict_torch(points, labels, boxes, multimask_output=False)
    expected = (len(anns), image.shape[0], image.shape[1])
    if pred.dim() != 4 or (pred.shape[0], *pred.shape[2:]) != expected:
        raise EfficientViTError(
            f"the predictor returned masks of shape {tuple(pred.shape)}, expected (B, C, H, W) = "
            f"({expected[0]}, C, {expected[1]}, {expected[2]})"
        )
    return pred[:, 0].bool().cpu()  # (B, H, W)
