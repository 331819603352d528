"""Automatic-mask timing: batched point prompts (``points_per_batch=64``) against one prompt per call.

Run ``python -m efficientvit.benchmark.sam_automatic [--image photo.jpg]``; without ``--image`` a seeded
synthetic picture is used. Weights are random (``create_model`` without weights), so the quality thresholds
are set to 0 and both settings keep the same masks: only the prompting differs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import numpy as np
import torch

from efficientvit.benchmark.latency import machine_description
from efficientvit.sam import SamAutomaticMaskGenerator, SamPredictor
from efficientvit.zoo import create_model


def synthetic_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 picture of random coloured rectangles on a gradient."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack(
        [xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1), np.full_like(xs, 128)], -1
    )
    for _ in range(12):
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        h, w = rng.integers(height // 8, height // 2 + 1), rng.integers(width // 8, width // 2 + 1)
        image[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, 3)
    return image.astype(np.uint8)


def _synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_generate(
    generator: SamAutomaticMaskGenerator, image: np.ndarray, warmup: int, repeats: int
) -> list[float]:
    """Seconds of each timed ``generate`` call after ``warmup`` untimed ones."""
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        generator.generate(image)  # returns host data: no device synchronisation needed
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientvit-sam-l0")
    parser.add_argument("--image", help="image file (default: a synthetic picture)")
    parser.add_argument("--height", type=int, default=480, help="synthetic image height")
    parser.add_argument("--width", type=int, default=640, help="synthetic image width")
    parser.add_argument("--points-per-side", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64, help="points_per_batch of the batched run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    if args.image:
        from efficientvit.data.images import read_image

        image = read_image(args.image).permute(1, 2, 0).numpy()  # (H, W, 3)
    else:
        image = synthetic_image(args.height, args.width)
    predictor = SamPredictor(create_model(args.model).to(args.device))
    settings = {
        "points_per_side": args.points_per_side,
        "pred_iou_thresh": 0.0,
        "stability_score_thresh": 0.0,
    }
    print(f"machine: {machine_description()}, device {args.device}")
    print(
        f"model {args.model} (random weights), image {image.shape[1]}x{image.shape[0]} (WxH), "
        f"{args.points_per_side**2} points, thresholds 0, warmup {args.warmup}, repeats {args.repeats}"
    )
    results = {}
    with torch.inference_mode():
        for batch in (args.batch, 1):
            generator = SamAutomaticMaskGenerator(predictor, points_per_batch=batch, **settings)
            times = time_generate(generator, image, args.warmup, args.repeats)
            results[batch] = statistics.median(times)
            print(f"points_per_batch={batch}: median {results[batch]:.3f} s, min {min(times):.3f} s")
        _synchronize(args.device)
        start = time.perf_counter()
        predictor.set_image(image)
        _synchronize(args.device)
        print(f"(of which the image encoder, once per generate: {time.perf_counter() - start:.3f} s)")
        print(f"speed-up of batching: {results[1] / results[args.batch]:.2f}x")
        # The prompt path alone (prompt encoder, mask decoder, upsampling), without filtering and RLE.
        size = torch.tensor([image.shape[1], image.shape[0]], dtype=torch.float32)  # (W, H)
        grid = torch.as_tensor(generator.point_grids[0], dtype=torch.float32) * size  # (P, 2) pixels
        points = predictor.transform_coords(grid.to(args.device))[:, None, :]  # (P, 1, 2)
        labels = torch.ones(points.shape[:2], dtype=torch.int64, device=points.device)  # (P, 1)
        for batch in (args.batch, 1):
            start = time.perf_counter()
            for i in range(0, len(points), batch):
                predictor.predict_torch(points[i : i + batch], labels[i : i + batch], return_logits=True)
            _synchronize(args.device)
            print(f"predict_torch over all points, {batch} per call: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
