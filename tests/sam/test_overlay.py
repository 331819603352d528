"""SAM mask pictures in blocks of rows equal the whole-image blend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientvit.inference import segmentation
from efficientvit.sam.overlay import PackedMask, overlay_masks


def _whole_image_blend(image: torch.Tensor, masks: list[np.ndarray], alpha: float) -> torch.Tensor:
    colours = torch.randint(40, 256, (max(len(masks), 1), 3), generator=torch.Generator().manual_seed(0))
    out = image.float()
    for mask, colour in zip(masks, colours, strict=False):
        region = torch.from_numpy(mask)
        out[:, region] = (1 - alpha) * out[:, region] + alpha * colour[:, None].float()
    return out.round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize("count", [0, 1, 4])
def test_overlapping_masks_in_row_blocks_equal_the_whole_image_blend(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segmentation, "OVERLAY_BLOCK_PIXELS", 7 * 45)  # 7 rows a block; 37 rows leave a rest
    generator = torch.Generator().manual_seed(1)
    image = torch.randint(0, 256, (3, 37, 45), dtype=torch.uint8, generator=generator)
    masks = [(torch.rand(37, 45, generator=generator) > 0.5).numpy() for _ in range(count)]
    out = overlay_masks(image, masks, alpha=0.4)
    assert out.dtype == torch.uint8 and torch.equal(out, _whole_image_blend(image, masks, 0.4))


def test_packed_masks_paint_exactly_like_bool_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segmentation, "OVERLAY_BLOCK_PIXELS", 5 * 43)
    generator = torch.Generator().manual_seed(2)
    image = torch.randint(0, 256, (3, 23, 43), dtype=torch.uint8, generator=generator)  # 43: not whole bytes
    masks = [(torch.rand(23, 43, generator=generator) > 0.6).numpy() for _ in range(3)]
    packed = [PackedMask(mask) for mask in masks]
    assert all(np.array_equal(p[4:9], m[4:9]) for p, m in zip(packed, masks, strict=True))
    assert torch.equal(overlay_masks(image, packed, 0.5), overlay_masks(image, masks, 0.5))
