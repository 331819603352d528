"""Time and peak memory of tiled super-resolution of one large image.

Run ``python -m efficientvit.benchmark.upscale_memory [--size 4000x3000] [--model efficientvit-sr-full-x2]
[--tile 256]``. The image is smooth random content (bicubic-upsampled noise) made in memory; the weights are
random unless ``--weights`` is given (the cost does not depend on them). Peak RSS is the process's high-water
mark (``resource.getrusage``), printed before and after upscaling: the difference bounds what upscaling added.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from efficientvit.benchmark.latency import machine_description
from efficientvit.inference.super_resolution import DEFAULT_TILE, upscale
from efficientvit.sizes import parse_pair
from efficientvit.zoo import create_model


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` as (width, height)."""
    try:
        return parse_pair(text, square=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not WIDTHxHEIGHT (sides >= 1), e.g. 4000x3000"
        ) from None


def smooth_image(width: int, height: int, seed: int = 0) -> torch.Tensor:
    """A uint8 (3, H, W) image: noise on a 16-pixel grid, upsampled bicubic (photo-like smoothness)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(1, height // 16), max(1, width // 16), 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)  # (3, H, W), a view of the (H, W, 3) array


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the measurement, print it, and return its numbers (seconds, MiB, output size)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=(4000, 3000), help="input WIDTHxHEIGHT")
    parser.add_argument("--model", default="efficientvit-sr-full-x2")
    parser.add_argument("--weights", default=None, help="checkpoint to load (default: random weights)")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="input pixels per tile side")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    width, height = args.size
    model = create_model(args.model, weights=args.weights).to(args.device)
    image = smooth_image(width, height)
    before = peak_rss_mib()
    print(f"machine: {machine_description()}, device {args.device}")
    print(
        f"model {args.model} ({'random weights' if args.weights is None else args.weights}), "
        f"input {width}x{height} (WxH), tile {args.tile}"
    )
    start = time.perf_counter()
    out = upscale(model, image.to(args.device), tile=args.tile)
    if out.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    after = peak_rss_mib()
    out_height, out_width = out.shape[-2:]
    output_mib = out.numel() * out.element_size() / 2**20
    print(f"output {out_width}x{out_height} (WxH), {output_mib:.0f} MiB as uint8")
    print(f"wall time {seconds:.1f} s ({width * height / seconds / 1e6:.3f} input Mpixel/s)")
    print(f"peak RSS {after:.0f} MiB (before upscaling: {before:.0f} MiB, added {after - before:.0f} MiB)")
    return {
        "seconds": seconds,
        "peak_rss_mib": after,
        "peak_rss_before_mib": before,
        "output_width": out_width,
        "output_height": out_height,
    }


if __name__ == "__main__":
    main()
