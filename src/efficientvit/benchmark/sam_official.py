"""EfficientViT-SAM against the official code (``efficientsam`` on PyPI), same weights, one run.

``python -m efficientvit.benchmark.sam_official`` prints, for EfficientViT-SAM-L0 with random weights loaded
into both (and XL0 for the embeddings):

1. ``set_image``: the largest embedding difference relative to the official embedding's largest value, on
   photos of odd size (333x517) and portrait (400x300), and both predictors' time;
2. ``predict_torch`` with 64 boxes on a 480x640 photo: both times, their ratio, the largest difference of the
   low-resolution logits relative to the official ones' largest value;
3. automatic masks, ``points_per_side=32`` on the 480x640 photo: both generators' time with the default
   settings, then loosened (thresholds 0 and no NMS, so that every prompt's three masks survive on random
   weights) both times again, and how many of our masks equal their official twin (the mask of the same
   point prompt and rank of predicted IoU) with IoU >= 0.99.

Ours runs as users get it (``backend="auto"``); the embeddings of point 1 are also given for ``eager``. The
photo is scikit-image's astronaut (public domain, NASA), resized; ``--image`` takes another. Needs the
``bench`` extra (``efficientsam``, ``scikit-image``).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from efficientvit.benchmark.latency import machine_description
from efficientvit.benchmark.peers import missing_package_error
from efficientvit.errors import EfficientViTError
from efficientvit.zoo import create_model

__all__ = ["main", "twin_ious"]

EMBEDDING_SIZES = (("efficientvit-sam-l0", (333, 517)), ("efficientvit-sam-l0", (400, 300)))
XL_EMBEDDING_SIZES = (("efficientvit-sam-xl0", (400, 300)),)
PHOTO_SIZE = (480, 640)
"""(H, W) of the photo of points 2 and 3."""
MATCH_IOU = 0.99


def photo(size: tuple[int, int], path: str | None = None) -> np.ndarray:
    """An (H, W, 3) uint8 photo: the file at ``path`` or scikit-image's astronaut, resized with PIL."""
    from PIL import Image

    if path is not None:
        from efficientvit.data.images import read_image

        picture = Image.fromarray(read_image(path).permute(1, 2, 0).numpy())
    else:
        try:
            from skimage import data
        except ImportError:
            raise missing_package_error("official-sam") from None
        picture = Image.fromarray(data.astronaut())
    height, width = size
    return np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR))


def _official() -> Any:
    try:
        from efficientsam.models.efficientvit import sam as official_sam
        from efficientsam.sam_model_zoo import create_efficientvit_sam_model
    except ImportError:
        raise missing_package_error("official-sam") from None
    return official_sam, create_efficientvit_sam_model


@functools.cache
def _pair(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Ours (random weights, seeded) and the official model with the same weights, in eval mode (built once
    per run: nothing here changes them)."""
    _, create_official = _official()
    torch.manual_seed(0)
    ours = create_model(name).eval()
    official = create_official(name, pretrained=False)
    official.load_state_dict(ours.state_dict())
    return ours, official.eval()


def _once(call: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call, and its result."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def _seconds(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls after one untimed call, and the last result."""
    result = call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _relative(ours: torch.Tensor, official: torch.Tensor) -> float:
    return float((ours - official).abs().max() / official.abs().max())


def twin_ious(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> tuple[np.ndarray, int]:
    """Mask IoU of each of ``ours`` with its official twin: the official mask from the same point prompt
    with the same rank of predicted IoU (0 where there is none); and how many official masks have no twin.
    Annotations in ``uncompressed_rle`` or ``binary_mask`` output mode."""
    from segment_anything.utils.amg import rle_to_mask

    def by_point(annotations: list[dict[str, Any]]) -> dict[tuple[float, ...], list[dict[str, Any]]]:
        groups: dict[tuple[float, ...], list[dict[str, Any]]] = {}
        for annotation in annotations:
            key = tuple(round(v, 3) for v in annotation["point_coords"][0])
            groups.setdefault(key, []).append(annotation)
        return {key: sorted(group, key=lambda a: a["predicted_iou"]) for key, group in groups.items()}

    def mask(annotation: dict[str, Any]) -> np.ndarray:
        segmentation = annotation["segmentation"]
        return rle_to_mask(segmentation) if isinstance(segmentation, dict) else segmentation

    official = by_point(theirs)
    ious, matched = [], 0
    for key, group in by_point(ours).items():
        twins = official.get(key, [])
        for i, annotation in enumerate(group):
            if i >= len(twins):
                ious.append(0.0)
                continue
            a, b = mask(annotation), mask(twins[i])
            ious.append(float((a & b).sum() / max(int((a | b).sum()), 1)))
            matched += 1
    return np.asarray(ious), len(theirs) - matched


def embeddings(sizes: Sequence[tuple[str, tuple[int, int]]], repeats: int, image_path: str | None) -> None:
    from efficientvit.sam import SamPredictor

    official_sam, _ = _official()
    for name in dict.fromkeys(model for model, _ in sizes):
        ours, official = _pair(name)
        for size in (size for model, size in sizes if model == name):
            image = photo(size, image_path)
            reference = official_sam.EfficientViTSamPredictor(official)
            official_s, _ = _seconds(lambda r=reference, i=image: r.set_image(i), repeats)
            expected = reference.features
            line = [f"{name} {size[1]}x{size[0]} (WxH): official {official_s * 1000:.0f} ms"]
            for backend in ("auto", "eager"):
                predictor = SamPredictor(ours, backend=backend)
                seconds, _ = _seconds(lambda p=predictor, i=image: p.set_image(i), repeats)
                difference = _relative(predictor.get_image_embedding(), expected)
                line.append(f"{backend} {seconds * 1000:.0f} ms, difference {difference:.1e}")
            print("  " + "; ".join(line))


def many_boxes(image: np.ndarray, repeats: int, count: int) -> None:
    from efficientvit.sam import SamPredictor

    official_sam, _ = _official()
    ours, official = _pair("efficientvit-sam-l0")
    height, width = image.shape[:2]
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(count, 2, 2, generator=generator) * torch.tensor([float(width), float(height)])
    boxes = torch.cat([corners.min(dim=1).values, corners.max(dim=1).values], dim=1)  # (B, 4) pixels
    reference = official_sam.EfficientViTSamPredictor(official)
    reference.set_image(image)
    predictor = SamPredictor(ours)
    predictor.set_image(image)
    with torch.inference_mode():
        official_s, expected = _seconds(
            lambda: reference.predict_torch(
                None, None, boxes=reference.apply_boxes_torch(boxes), return_logits=True
            ),
            repeats,
        )
        ours_s, result = _seconds(
            lambda: predictor.predict_torch(
                boxes=predictor.transform.apply_boxes_torch(boxes, image.shape[:2]), return_logits=True
            ),
            repeats,
        )
    print(
        f"  official {official_s:.2f} s, ours {ours_s:.2f} s: {official_s / ours_s:.2f}x; "
        f"low-resolution logits differ by {_relative(result[2], expected[2]):.1e}, "
        f"masks by {_relative(result[0], expected[0]):.1e} (relative to the largest)"
    )


def automatic(image: np.ndarray, points_per_side: int, *, loose_only: bool = False) -> None:
    from efficientvit.sam import SamAutomaticMaskGenerator

    official_sam, _ = _official()
    ours, official = _pair("efficientvit-sam-l0")
    # Loosened: no quality threshold and no NMS, so that every prompt's masks survive and are compared.
    loose = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}
    runs = [("default settings", {}), ("thresholds 0, no NMS", loose)][1 if loose_only else 0 :]
    for label, settings in runs:
        options = {"points_per_side": points_per_side, "output_mode": "uncompressed_rle", **settings}
        theirs = official_sam.EfficientViTSamAutomaticMaskGenerator(official, **options)
        mine = SamAutomaticMaskGenerator(ours, **options)
        mine.generate(image[:64, :64].copy())  # prepares the backends: not part of the timing
        with torch.inference_mode():
            official_s, official_masks = _once(lambda g=theirs: g.generate(image))
            ours_s, our_masks = _once(lambda g=mine: g.generate(image))
        line = (
            f"  {label}: official {official_s:.1f} s ({len(official_masks)} masks), "
            f"ours {ours_s:.1f} s ({len(our_masks)} masks): {official_s / ours_s:.2f}x"
        )
        if our_masks or official_masks:
            ious, unmatched = twin_ious(our_masks, official_masks)
            line += (
                f"; ours with an official twin at IoU >= {MATCH_IOU}: {int((ious >= MATCH_IOU).sum())}"
                f"/{len(ious)} (lowest IoU {ious.min() if len(ious) else 0:.4f}), official without a twin: "
                f"{unmatched}"
            )
        print(line)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="photo file (default: scikit-image's astronaut)")
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--boxes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of points 1 and 2 (median)")
    parser.add_argument("--skip-xl", action="store_true", help="no XL0 embeddings (its encoder is slow)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: one L0 embedding, a small photo, 4 boxes, 2 points per side (loosened), 1 repeat",
    )
    args = parser.parse_args(argv)
    for option in ("points_per_side", "boxes", "repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    size = (96, 128) if args.quick else PHOTO_SIZE
    points, count, repeats = (2, 4, 1) if args.quick else (args.points_per_side, args.boxes, args.repeats)
    sizes = EMBEDDING_SIZES if args.skip_xl else EMBEDDING_SIZES + XL_EMBEDDING_SIZES
    if args.quick:
        sizes = EMBEDDING_SIZES[:1]
    try:
        _official()
        image = photo(size, args.image)
    except EfficientViTError as error:  # a missing package or an unreadable photo: one line
        parser.exit(1, f"error: {error}\n")
    print(f"machine: {machine_description()}")
    print(f"random weights in both; ours with backend auto; photo {size[1]}x{size[0]} (WxH)")
    print(f"1. set_image embeddings (median of {repeats}; difference relative to the official maximum):")
    embeddings(sizes, repeats, args.image)
    print(f"2. predict_torch with {count} boxes, 3 masks each (median of {repeats}):")
    many_boxes(image, repeats, count)
    print(f"3. automatic masks, points_per_side={points} (one call each):")
    automatic(image, points, loose_only=args.quick)


if __name__ == "__main__":
    main()
