"""Super-resolution of an image of any size, one tile at a time, so memory stays bounded."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from tqdm import tqdm

from efficientvit.inference.preprocess import check_image, model_placement, require_task
from efficientvit.runtime import runner_for
from efficientvit.zoo import ModelInfo

DEFAULT_TILE = 512
"""Input pixels per tile side. A 4000x3000 photo took 32 s and peaked at 1.6 GB of memory with tiles of 512
on the CPU; tiles of 256 took 40 s (each tile runs its overlap too) and 1.1 GB (README, super-resolution)."""


def upscale(
    model: nn.Module,
    image: torch.Tensor,
    *,
    tile: int | None = DEFAULT_TILE,
    overlap: int | None = None,
    backend: str | None = "auto",
    progress: bool = False,
) -> torch.Tensor:
    """The uint8 (3, H * s, W * s) upscaling of a uint8 RGB (3, H, W) image, on the image's device.

    The image is processed in ``tile`` x ``tile`` tiles (``None``: in one piece), each run with ``overlap``
    pixels of context on every side whose output is then dropped. By default the overlap is the model's
    ``tile_margin``, which makes the result equal to whole-image inference up to float rounding (no seams);
    a smaller overlap is faster but may differ near tile borders. Both are rounded up to multiples of the
    model's attention window. Output values are rounded and clamped to [0, 255]. The output is allocated
    once and filled tile by tile, so memory beyond it does not grow with the image size. ``backend`` as in
    :func:`efficientvit.inference.segment` (default ``"auto"``: the fastest exact backend). ``progress``
    shows a bar of the tiles on stderr when there are more than a few.
    """
    check_image(image)
    height, width = image.shape[-2:]
    scale = _scale(model)
    out = torch.empty(3, height * scale, width * scale, dtype=torch.uint8, device=image.device)

    def to_uint8(pixels: torch.Tensor) -> torch.Tensor:
        return pixels.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)

    _run_tiles(
        model,
        image,
        out,
        scale,
        tile,
        overlap,
        backend,
        to_input=lambda x: x.float() / 255.0,
        to_out=to_uint8,
        progress=progress,
    )
    return out


def upscale_float(
    model: nn.Module,
    x: torch.Tensor,
    *,
    tile: int | None = DEFAULT_TILE,
    overlap: int | None = None,
    backend: str | None = "auto",
    progress: bool = False,
) -> torch.Tensor:
    """The float32 (3, H * s, W * s) upscaling of a float RGB (3, H, W) image in [0, 1], clamped to [0, 1].

    The same tiling and backends as ``upscale`` without quantisation, for evaluation (PSNR, SSIM).
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"expected a float image tensor in [0, 1], got {getattr(x, 'dtype', type(x))}")
    if x.ndim != 3 or x.shape[0] != 3 or x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"expected an image of shape (3, H, W), got {tuple(x.shape)}")
    height, width = x.shape[-2:]
    scale = _scale(model)
    out = torch.empty(3, height * scale, width * scale, dtype=torch.float32, device=x.device)
    _run_tiles(
        model,
        x,
        out,
        scale,
        tile,
        overlap,
        backend,
        to_input=lambda t: t.float(),
        to_out=lambda t: t.clamp_(0.0, 1.0),
        progress=progress,
    )
    return out


def _scale(model: nn.Module) -> int:
    """The model's upscaling factor; a model of another task raises a user-facing error."""
    info = getattr(model, "info", None)
    if isinstance(info, ModelInfo):
        require_task(info, "sr")
    scale = getattr(model, "scale", None)
    if not isinstance(scale, int) or scale < 1:
        raise ValueError("model is not a super-resolution model (it has no integer `scale`)")
    return scale


def _spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(start, end) of each tile's kept part and of its input with context, along one side."""
    spans = []
    for start in range(0, length, tile):
        end = min(start + tile, length)
        spans.append((start, end, max(0, start - margin), min(length, end + margin)))
    return spans


def _run_tiles(
    model: nn.Module,
    source: torch.Tensor,
    out: torch.Tensor,
    scale: int,
    tile: int | None,
    overlap: int | None,
    backend: str | None,
    *,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    to_out: Callable[[torch.Tensor], torch.Tensor],
    progress: bool = False,
) -> None:
    """Fill ``out`` with the model's output on ``source``, tile by tile (see ``upscale``)."""
    height, width = source.shape[-2:]
    align = int(getattr(model, "window_size", 1))
    if tile is None:
        tile = max(height, width)
    if tile < 1 or (overlap is not None and overlap < 0):
        raise ValueError(f"need tile >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}")
    margin = int(getattr(model, "tile_margin", 0)) if overlap is None else overlap
    # Tile corners on the model's window grid: every tile sees the windows of the whole image.
    tile = math.ceil(tile / align) * align
    margin = math.ceil(margin / align) * align
    device, dtype = model_placement(model)
    run = runner_for(model, "upscaler", backend)
    row_spans, col_spans = _spans(height, tile, margin), _spans(width, tile, margin)
    count = len(row_spans) * len(col_spans)
    bar = tqdm(total=count, unit="tile", leave=False, disable=not progress or count < 4)
    with torch.inference_mode(), bar:
        for top, bottom, in_top, in_bottom in row_spans:
            for left, right, in_left, in_right in col_spans:
                patch = to_input(source[:, in_top:in_bottom, in_left:in_right].to(device))  # (3, h, w)
                pixels = run(patch[None].to(dtype))[0].float()  # (3, h * s, w * s)
                rows = slice((top - in_top) * scale, (bottom - in_top) * scale)
                cols = slice((left - in_left) * scale, (right - in_left) * scale)
                kept = to_out(pixels[:, rows, cols])  # the tile without its context
                out[:, top * scale : bottom * scale, left * scale : right * scale] = kept.to(out.device)
                bar.update(1)
