"""Pure metric functions, checked against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from efficientvit.metrics import mask_iou


def test_mask_iou_hand_computed() -> None:
    pred = torch.zeros(3, 4, 4, dtype=torch.bool)
    gt = torch.zeros(3, 4, 4, dtype=torch.bool)
    pred[0, :2, :2] = True  # 4 px, identical to gt -> 1
    gt[0, :2, :2] = True
    pred[1, :, :2] = True  # 8 px vs 8 px overlapping in one column (4 px): 4 / 12
    gt[1, :, 1:3] = True
    gt[2, 0, 0] = True  # prediction empty, gt not -> 0
    torch.testing.assert_close(mask_iou(pred, gt), torch.tensor([1.0, 1 / 3, 0.0]))


def test_mask_iou_both_empty_is_one() -> None:
    empty = torch.zeros(2, 3, 5, dtype=torch.bool)
    torch.testing.assert_close(mask_iou(empty, empty), torch.ones(2))


def test_mask_iou_accepts_non_bool_and_returns_float32() -> None:
    pred = torch.tensor([[[0.0, 2.0], [1.0, 0.0]]])
    gt = torch.tensor([[[0, 1], [0, 0]]], dtype=torch.uint8)
    iou = mask_iou(pred, gt)
    assert iou.dtype == torch.float32
    torch.testing.assert_close(iou, torch.tensor([0.5]))


@pytest.mark.parametrize(("pred_shape", "gt_shape"), [((1, 2, 2), (1, 2, 3)), ((2, 2), (2, 2))])
def test_mask_iou_rejects_bad_shapes(pred_shape: tuple[int, ...], gt_shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="mask_iou"):
        mask_iou(torch.zeros(pred_shape, dtype=torch.bool), torch.zeros(gt_shape, dtype=torch.bool))
