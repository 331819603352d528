"""COCO-format instance annotations (boxes + masks per object), read with pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torchvision import tv_tensors

from efficientvit.data.common import FileDataset, OnError, load_image, require_dir
from efficientvit.errors import EfficientViTError
from efficientvit.extras import require
from efficientvit.files import regular_file

if TYPE_CHECKING:
    from pycocotools.coco import COCO

__all__ = ["CocoInstanceDataset", "collate_instances"]

_LAYOUT = (
    "an image folder (e.g. {images}/*.jpg) and a COCO instances JSON "
    "(e.g. annotations/instances_val2017.json) with 'images', 'annotations' (segmentation, bbox, iscrowd) "
    "and 'categories'"
)

COCO_FEATURE = "COCO-format datasets"


def _load_coco(annotation_file: Path, layout: str) -> COCO:
    coco_module = require("pycocotools.coco", COCO_FEATURE)
    if not annotation_file.exists():
        raise EfficientViTError(f"{annotation_file}: no such annotation file; expected {layout}")
    regular_file(annotation_file, "COCO annotation file")
    try:
        with annotation_file.open(encoding="utf-8") as f:
            content = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise EfficientViTError(f"{annotation_file}: not a readable COCO JSON file ({reason})") from exc
    if not isinstance(content, dict) or not isinstance(content.get("images"), list):
        raise EfficientViTError(
            f"{annotation_file}: not a COCO annotation file (no 'images' list); expected {layout}"
        )
    content.setdefault("annotations", [])
    content.setdefault("categories", [])
    coco = coco_module.COCO()
    coco.dataset = content
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    return coco


class CocoInstanceDataset(FileDataset):
    """Images of ``image_dir`` with their instance annotations from a COCO-format JSON file.

    Item ``i`` (images in increasing id order, including images without annotations) is
    ``transform(image, target)`` or ``(image, target)``, where ``image`` is a uint8 ``tv_tensors.Image``
    (3, H, W) and ``target`` a dict with ``"boxes"`` (``tv_tensors.BoundingBoxes``, XYXY, float32, (N, 4)),
    ``"masks"`` (``tv_tensors.Mask``, uint8, (N, H, W)), ``"category_ids"`` (int64, (N,), the file's ids) and
    ``"image_id"`` (int). Crowd annotations (``iscrowd=1``) and annotations whose box has no width or height
    are left out. ``categories`` maps category id to name.
    """

    def __init__(
        self,
        image_dir: str | os.PathLike[str],
        annotation_file: str | os.PathLike[str],
        *,
        transform: Callable[[Any, dict[str, Any]], tuple[Any, dict[str, Any]]] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(on_error)
        require("pycocotools.coco", COCO_FEATURE)  # the missing extra first, before the files
        self.image_dir = Path(image_dir)
        self.annotation_file = Path(annotation_file)
        self.transform = transform
        layout = _LAYOUT.format(images=self.image_dir)
        require_dir(self.image_dir, "a COCO image folder", layout)
        self.coco = _load_coco(self.annotation_file, layout)
        self.image_ids: list[int] = sorted(self.coco.imgs)
        if not self.image_ids:
            raise EfficientViTError(f"{self.annotation_file}: lists no images; expected {layout}")
        self.categories: dict[int, str] = {
            int(c["id"]): str(c.get("name", c["id"])) for c in self.coco.cats.values()
        }

    def __len__(self) -> int:
        return len(self.image_ids)

    def load(self, index: int) -> Any:
        image_id = self.image_ids[index]
        info = self.coco.imgs[image_id]
        path = self.image_dir / info["file_name"]
        image = load_image(path)  # (3, H, W) uint8
        height, width = image.shape[-2:]
        if (info.get("height", height), info.get("width", width)) != (height, width):
            raise EfficientViTError(
                f"{path}: image is {height}x{width} (HxW) but {self.annotation_file} gives "
                f"{info['height']}x{info['width']} for image id {image_id}; the annotations do not fit it"
            )
        info.setdefault("height", height)
        info.setdefault("width", width)
        anns = [
            a
            for a in self.coco.imgToAnns.get(image_id, [])
            if not a.get("iscrowd", 0) and a["bbox"][2] > 0 and a["bbox"][3] > 0
        ]
        masks = np.zeros((len(anns), height, width), dtype=np.uint8)
        for i, ann in enumerate(anns):
            if "segmentation" not in ann:
                raise EfficientViTError(
                    f"{self.annotation_file}: annotation {ann.get('id')} has no 'segmentation'; "
                    "instance masks need polygon or RLE segmentations"
                )
            with warnings.catch_warnings():
                # pycocotools' compiled decoder trips a NumPy 2 DeprecationWarning (copy=False) on every call.
                warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
                masks[i] = self.coco.annToMask(ann)
        xywh = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)  # (N, 4)
        xyxy = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)  # (N, 4)
        target = {
            "boxes": tv_tensors.BoundingBoxes(xyxy, format="XYXY", canvas_size=(height, width)),
            "masks": tv_tensors.Mask(torch.from_numpy(masks)),
            "category_ids": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64),
            "image_id": int(image_id),
        }
        if self.transform is None:
            return image, target
        return self.transform(image, target)


def collate_instances(batch: Sequence[tuple[Any, dict[str, Any]]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Collate ``(image, target)`` samples into a list of images and a list of targets (N varies by image)."""
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    return images, targets
