"""The SAM task's mask post-processing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from efficientvit.tasks import sam as sam_task
from efficientvit.tasks.sam import PROMPT_FRAME, postprocess_masks, preprocess_shape


def test_postprocess_masks_equals_segment_anythings_two_resizes() -> None:
    low_res = torch.randn(2, 3, 256, 256)
    height, width = 300, 500
    frame_h, frame_w = preprocess_shape(height, width, PROMPT_FRAME)
    frame = F.interpolate(low_res, (PROMPT_FRAME, PROMPT_FRAME), mode="bilinear", align_corners=False)
    kept = frame[..., :frame_h, :frame_w]  # (2, 3, frame_h, frame_w): the part the image covers
    expected = F.interpolate(kept, (height, width), mode="bilinear", align_corners=False)
    torch.testing.assert_close(postprocess_masks(low_res, (height, width)), expected, atol=1e-4, rtol=1e-4)


def test_masks_post_processed_under_inference_mode_first_still_train() -> None:
    """The resize matrices are cached: built under ``inference_mode`` (prediction), they must not break a
    later backward pass (fine-tuning in the same process)."""
    size = (123, 77)
    with torch.inference_mode():
        postprocess_masks(torch.randn(1, 1, 256, 256), size)
    low_res = torch.randn(1, 1, 256, 256, requires_grad=True)
    postprocess_masks(low_res, size).sum().backward()
    assert low_res.grad is not None and torch.isfinite(low_res.grad).all()


@pytest.mark.parametrize("size", [(300, 500), (1, 777), (999, 64)])
def test_binary_masks_in_row_blocks_equal_thresholded_full_logits(
    size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sam_task, "FULL_SIZE_BLOCK_VALUES", 3 * 2 * size[1] * 7)  # 7 rows a block, a rest
    low_res = torch.randn(2, 3, 256, 256)
    expected = postprocess_masks(low_res, size) > 0.0
    masks = sam_task.binary_masks(low_res, size)
    assert masks.dtype == torch.bool and masks.shape == expected.shape
    assert torch.equal(masks, expected)
