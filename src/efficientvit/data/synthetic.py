"""Tiny synthetic datasets in the real on-disk layouts, for tests, demos and smoke-training.

Each scene is a flat background with a few non-overlapping filled shapes (disc, rectangle, triangle), every
shape class in its own fixed colour, plus mild pixel noise: a model can learn colour -> class, so a short
training run must reduce its loss. Generation uses ``numpy.random.Generator(seed)`` and Pillow only, so the
same arguments write the same files.

Layouts written under ``root`` (``N`` = ``num_train`` or ``num_val``):

* ``imagenet``: ``train/nXXXXXXXX/*.JPEG`` and ``val/...``; one class per shape, one shape per image.
* ``cityscapes``: ``leftImg8bit/{train,val}/CITY/*_leftImg8bit.png`` + ``gtFine/.../*_gtFine_labelIds.png``
  with real label ids (road 7 background; car 26, person 24, sky 23 shapes) and an ignored id-0 strip.
* ``ade20k``: ``ADEChallengeData2016/{images,annotations}/{training,validation}/ADE_*.jpg|png`` with
  1-based labels and a label-0 ("other") strip.
* ``folder``: ``{train,val}/images/*.png`` + ``{train,val}/masks/*.png`` + ``classes.txt``, with an
  ignored (255) strip.
* ``coco``: ``{train2017,val2017}/*.jpg`` + ``annotations/instances_{train2017,val2017}.json`` (polygons).
* ``sr``: ``DIV2K_train_HR/*.png`` and ``DIV2K_valid_HR/*.png``: smooth gradients and soft shapes,
  at least 64x64.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["SHAPE_CLASSES", "SHAPE_COLOURS", "SyntheticLayout", "write_synthetic_dataset"]

SyntheticLayout = Literal["imagenet", "cityscapes", "ade20k", "folder", "coco", "sr"]

SHAPE_CLASSES: tuple[str, ...] = ("disc", "rectangle", "triangle")
"""The shape classes drawn, in order (class ``k`` of the ``folder`` layout is ``SHAPE_CLASSES[k - 1]``)."""

SHAPE_COLOURS: dict[str, tuple[int, int, int]] = {
    "background": (110, 110, 110),
    "disc": (220, 40, 40),
    "rectangle": (40, 90, 230),
    "triangle": (240, 210, 30),
}
_IGNORE_COLOUR = (15, 15, 15)
_NOISE_STD = 6.0

# Per-layout label values: background, the three shapes, and the value of the ignored strip (None: no strip).
_CITYSCAPES_IDS = {"background": 7, "disc": 26, "rectangle": 24, "triangle": 23, "ignore": 0}
_ADE20K_IDS = {"background": 7, "disc": 21, "rectangle": 2, "triangle": 13, "ignore": 0}
_FOLDER_IDS = {"background": 0, "disc": 1, "rectangle": 2, "triangle": 3, "ignore": 255}

Polygon = list[tuple[float, float]]


def _shape_polygon(kind: str, rng: np.random.Generator, cx: float, cy: float, radius: float) -> Polygon:
    if kind == "disc":
        angles = np.linspace(0.0, 2 * math.pi, 24, endpoint=False)
    elif kind == "triangle":
        angles = rng.uniform(0, 2 * math.pi) + np.array([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    else:  # rectangle, axis-aligned, inscribed in the circle
        half_w, half_h = radius * rng.uniform(0.5, 0.7), radius * rng.uniform(0.5, 0.7)
        return [(cx - half_w, cy - half_h), (cx + half_w, cy - half_h), (cx + half_w, cy + half_h),
                (cx - half_w, cy + half_h)]  # fmt: skip
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


def _place_shapes(
    rng: np.random.Generator, kinds: list[str], height: int, width: int
) -> list[tuple[str, Polygon]]:
    """Polygons of ``kinds`` at random positions and sizes, not overlapping (a shape that finds no free spot
    within a few tries is dropped, except the first)."""
    placed: list[tuple[float, float, float]] = []
    shapes: list[tuple[str, Polygon]] = []
    short = min(height, width)
    for kind in kinds:
        for _ in range(20):
            radius = rng.uniform(0.14, 0.3) * short
            cx = rng.uniform(radius, width - radius)
            cy = rng.uniform(radius, height * 0.85 - radius) if height * 0.85 > 2 * radius else height / 2
            if all(math.hypot(cx - x, cy - y) > radius + r + 1 for x, y, r in placed):
                placed.append((cx, cy, radius))
                shapes.append((kind, _shape_polygon(kind, rng, cx, cy, radius)))
                break
    return shapes


def _render(
    rng: np.random.Generator,
    size: tuple[int, int],
    shapes: list[tuple[str, Polygon]],
    labels: dict[str, int] | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """An RGB uint8 (H, W, 3) scene with noise and, if ``labels`` is given, its (H, W) uint8 label map."""
    height, width = size
    image = Image.new("RGB", (width, height), SHAPE_COLOURS["background"])
    draw = ImageDraw.Draw(image)
    mask = draw_mask = None
    if labels is not None:
        mask = Image.new("L", (width, height), labels["background"])
        draw_mask = ImageDraw.Draw(mask)
    for kind, polygon in shapes:
        draw.polygon(polygon, fill=SHAPE_COLOURS[kind])
        if draw_mask is not None and labels is not None:
            draw_mask.polygon(polygon, fill=labels[kind])
    strip = max(1, height // 16)
    if labels is not None and "ignore" in labels:  # an unlabelled strip at the bottom, like the ego vehicle
        draw.rectangle([0, height - strip, width - 1, height - 1], fill=_IGNORE_COLOUR)
        assert draw_mask is not None
        draw_mask.rectangle([0, height - strip, width - 1, height - 1], fill=labels["ignore"])
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0.0, _NOISE_STD, (height, width, 3))
    rgb = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return rgb, None if mask is None else np.asarray(mask)


def _random_scene(
    rng: np.random.Generator, size: tuple[int, int], labels: dict[str, int] | None
) -> tuple[np.ndarray, np.ndarray | None, list[tuple[str, Polygon]]]:
    count = int(rng.integers(1, 4))
    kinds = [SHAPE_CLASSES[int(k)] for k in rng.integers(0, len(SHAPE_CLASSES), count)]
    shapes = _place_shapes(rng, kinds, *size)
    rgb, mask = _render(rng, size, shapes, labels)
    return rgb, mask, shapes


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=95, subsampling=0)  # 4:4:4 keeps shape colours crisp
    else:
        image.save(path, format="PNG")


def _splits(num_train: int, num_val: int) -> list[tuple[str, int]]:
    return [("train", num_train), ("val", num_val)]


def _write_imagenet(
    root: Path, rng: np.random.Generator, num_train: int, num_val: int, size: tuple[int, int]
) -> None:
    for split, count in _splits(num_train, num_val):
        for i in range(count):
            label = i % len(SHAPE_CLASSES)
            shapes = _place_shapes(rng, [SHAPE_CLASSES[label]], *size)
            rgb, _ = _render(rng, size, shapes, None)
            _save(rgb, root / split / f"n{label + 1:08d}" / f"{split}_{i:05d}.JPEG")


def _write_cityscapes(
    root: Path, rng: np.random.Generator, num_train: int, num_val: int, size: tuple[int, int]
) -> None:
    cities = {"train": ("aachen", "bochum"), "val": ("frankfurt",)}
    for split, count in _splits(num_train, num_val):
        for i in range(count):
            city = cities[split][i % len(cities[split])]
            stem = f"{city}_000000_{i:06d}"
            rgb, mask, _ = _random_scene(rng, size, _CITYSCAPES_IDS)
            assert mask is not None
            _save(rgb, root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            _save(mask, root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png")


def _write_ade20k(
    root: Path, rng: np.random.Generator, num_train: int, num_val: int, size: tuple[int, int]
) -> None:
    base = root / "ADEChallengeData2016"
    for (split, count), folder in zip(_splits(num_train, num_val), ("training", "validation"), strict=True):
        for i in range(count):
            stem = f"ADE_{split}_{i + 1:08d}"
            rgb, mask, _ = _random_scene(rng, size, _ADE20K_IDS)
            assert mask is not None
            _save(rgb, base / "images" / folder / f"{stem}.jpg")
            _save(mask, base / "annotations" / folder / f"{stem}.png")


def _write_folder(
    root: Path, rng: np.random.Generator, num_train: int, num_val: int, size: tuple[int, int]
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(("background", *SHAPE_CLASSES)) + "\n", encoding="utf-8")
    for split, count in _splits(num_train, num_val):
        for i in range(count):
            rgb, mask, _ = _random_scene(rng, size, _FOLDER_IDS)
            assert mask is not None
            _save(rgb, root / split / "images" / f"{i:04d}.png")
            _save(mask, root / split / "masks" / f"{i:04d}.png")


def _polygon_area(points: Polygon) -> float:
    xs, ys = np.array(points).T
    return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)


def _write_coco(
    root: Path, rng: np.random.Generator, num_train: int, num_val: int, size: tuple[int, int]
) -> None:
    height, width = size
    categories = [
        {"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(SHAPE_CLASSES)
    ]
    annotation_id = 1
    for split, count in _splits(num_train, num_val):
        folder = f"{split}2017"
        images, annotations = [], []
        for i in range(count):
            image_id = i + 1
            file_name = f"{image_id:012d}.jpg"
            rgb, _, shapes = _random_scene(rng, size, None)
            _save(rgb, root / folder / file_name)
            images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
            for kind, polygon in shapes:
                # Pillow puts integer coordinates at pixel centres, COCO at pixel corners: shift by 0.5.
                coco_polygon = [(x + 0.5, y + 0.5) for x, y in polygon]
                xs, ys = [p[0] for p in coco_polygon], [p[1] for p in coco_polygon]
                x0, y0 = max(min(xs), 0.0), max(min(ys), 0.0)
                x1, y1 = min(max(xs), float(width)), min(max(ys), float(height))
                annotations.append(
                    {
                        "id": annotation_id,
                        "image_id": image_id,
                        "category_id": SHAPE_CLASSES.index(kind) + 1,
                        "segmentation": [[round(v, 2) for point in coco_polygon for v in point]],
                        "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                        "area": round(_polygon_area(coco_polygon), 2),
                        "iscrowd": 0,
                    }
                )
                annotation_id += 1
        content = {"images": images, "annotations": annotations, "categories": categories}
        path = root / "annotations" / f"instances_{folder}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content), encoding="utf-8")


def _smooth_image(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    ys, xs = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    corners = rng.uniform(30, 225, (4, 3))  # colours at the four corners, bilinearly blended
    top = corners[0] * (1 - xs[..., None]) + corners[1] * xs[..., None]
    bottom = corners[2] * (1 - xs[..., None]) + corners[3] * xs[..., None]
    base = Image.fromarray(np.rint(top * (1 - ys[..., None]) + bottom * ys[..., None]).astype(np.uint8))
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(2, 5))):
        r = rng.uniform(0.08, 0.25) * min(height, width)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.uniform() < 0.5:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=colour)
    soft = base.filter(ImageFilter.GaussianBlur(radius=1.0))
    pixels = np.asarray(soft, dtype=np.float32) + rng.normal(0.0, 2.0, (height, width, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _write_sr(
    root: Path, rng: np.random.Generator, num_train: int, num_val: int, size: tuple[int, int]
) -> None:
    size = (max(size[0], 64), max(size[1], 64))
    for folder, count, first in (("DIV2K_train_HR", num_train, 1), ("DIV2K_valid_HR", num_val, 801)):
        for i in range(count):
            _save(_smooth_image(rng, size), root / folder / f"{first + i:04d}.png")


_WRITERS = {
    "imagenet": _write_imagenet,
    "cityscapes": _write_cityscapes,
    "ade20k": _write_ade20k,
    "folder": _write_folder,
    "coco": _write_coco,
    "sr": _write_sr,
}


def write_synthetic_dataset(
    root: str | os.PathLike[str],
    layout: SyntheticLayout,
    *,
    num_train: int = 8,
    num_val: int = 4,
    size: tuple[int, int] = (64, 128),
    seed: int = 0,
) -> Path:
    """Write a tiny learnable dataset in ``layout`` under ``root`` and return ``root`` (what
    :func:`~efficientvit.data.build.build_dataset` takes; for ``coco``, the images are in
    ``root/{train2017,val2017}`` and the annotations in ``root/annotations``). ``size`` is (H, W); the ``sr``
    layout uses at least 64x64. The same arguments always write the same files."""
    if layout not in _WRITERS:
        raise ValueError(f"unknown synthetic layout {layout!r}; use one of {', '.join(_WRITERS)}")
    if num_train < 0 or num_val < 0:
        raise ValueError(f"num_train and num_val must be >= 0, got {num_train} and {num_val}")
    if min(size) < 16:
        raise ValueError(f"size must be at least 16x16, got {size}")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    _WRITERS[layout](path, np.random.default_rng(seed), num_train, num_val, (int(size[0]), int(size[1])))
    return path
