"""Pure metric functions, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from efficientvit.metrics import (
    confusion_matrix,
    crop_border,
    iou_from_confusion,
    mask_iou,
    mean_iou,
    pixel_accuracy,
    psnr,
    rgb_to_y,
    sr_psnr_ssim,
    ssim,
    topk_correct,
)


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


# ---------------------------------------------------------------------------------------------------------
# Segmentation: confusion matrix, IoU, mIoU, pixel accuracy
# ---------------------------------------------------------------------------------------------------------

# A 2x3 label map; the bottom-right pixel is ignored (target 255) although its prediction is class 2.
SEG_TARGET = torch.tensor([[0, 0, 1], [1, 2, 255]], dtype=torch.uint8)
SEG_PRED = torch.tensor([[0, 1, 1], [1, 0, 2]])
# Counted (target, pred) pairs: (0,0) (0,1) (1,1) (1,1) (2,0)  -> rows target, columns prediction:
SEG_CONFUSION = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 0]])
# IoU = diag / (row sum + column sum - diag):
#   class 0: 1 / (2 + 2 - 1) = 1/3;  class 1: 2 / (2 + 3 - 2) = 2/3;  class 2: 0 / (1 + 0 - 0) = 0
# mIoU = (1/3 + 2/3 + 0) / 3 = 1/3;  pixel accuracy = 3 / 5


def test_confusion_matrix_hand_computed_and_ignore_really_ignored() -> None:
    confusion = confusion_matrix(SEG_PRED, SEG_TARGET, num_classes=3)
    assert confusion.dtype == torch.int64
    torch.testing.assert_close(confusion, SEG_CONFUSION)
    # Column 2 stays empty: the ignored pixel's prediction (2) was not counted anywhere.
    assert confusion[:, 2].sum() == 0 and confusion.sum() == 5


def test_confusion_matrix_drops_targets_outside_range() -> None:
    target = SEG_TARGET.long().clone()
    target[1, 2] = 7  # outside [0, 3) but not the ignore index: dropped too
    torch.testing.assert_close(confusion_matrix(SEG_PRED, target, num_classes=3), SEG_CONFUSION)
    # A custom ignore index inside the class range drops that class's target pixels.
    only_12 = confusion_matrix(SEG_PRED, SEG_TARGET, num_classes=3, ignore_index=0)
    torch.testing.assert_close(only_12, torch.tensor([[0, 0, 0], [0, 2, 0], [1, 0, 0]]))


def test_iou_miou_pixel_accuracy_hand_computed() -> None:
    iou = iou_from_confusion(SEG_CONFUSION)
    assert iou.dtype == torch.float64
    torch.testing.assert_close(iou, torch.tensor([1 / 3, 2 / 3, 0.0], dtype=torch.float64))
    assert mean_iou(SEG_CONFUSION) == pytest.approx(1 / 3)
    assert pixel_accuracy(SEG_CONFUSION) == pytest.approx(3 / 5)


def test_absent_class_is_nan_and_excluded_from_mean() -> None:
    confusion = confusion_matrix(SEG_PRED, SEG_TARGET, num_classes=4)  # class 3 never appears
    iou = iou_from_confusion(confusion)
    torch.testing.assert_close(iou[:3], torch.tensor([1 / 3, 2 / 3, 0.0], dtype=torch.float64))
    assert torch.isnan(iou[3])
    assert mean_iou(confusion) == pytest.approx(1 / 3)  # not (1/3 + 2/3 + 0 + 0) / 4
    assert math.isnan(mean_iou(torch.zeros(3, 3, dtype=torch.int64)))
    assert math.isnan(pixel_accuracy(torch.zeros(3, 3, dtype=torch.int64)))


def test_confusion_matrix_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        confusion_matrix(SEG_PRED, SEG_TARGET[:1], num_classes=3)
    with pytest.raises(ValueError, match="integer"):
        confusion_matrix(SEG_PRED.float(), SEG_TARGET, num_classes=3)
    bad = SEG_PRED.clone()
    bad[1, 2] = 3  # out of range on the ignored pixel: fine
    torch.testing.assert_close(confusion_matrix(bad, SEG_TARGET, num_classes=3), SEG_CONFUSION)
    bad[0, 0] = 3  # out of range on a counted pixel: an error, not a silent miscount
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(bad, SEG_TARGET, num_classes=3)


def test_miou_matches_torchmetrics_over_batches() -> None:
    from torchmetrics.classification import MulticlassJaccardIndex

    num_classes = 6
    generator = torch.Generator().manual_seed(0)
    macro = MulticlassJaccardIndex(num_classes=num_classes, ignore_index=255, average="macro")
    per_class = MulticlassJaccardIndex(num_classes=num_classes, ignore_index=255, average="none")
    total = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for _ in range(4):
        # Class 5 never occurs in target nor prediction; ~10% of pixels are ignored.
        target = torch.randint(0, num_classes - 1, (2, 17, 23), generator=generator)
        pred = torch.where(
            torch.rand(target.shape, generator=generator) < 0.6,
            target,
            torch.randint(0, num_classes - 1, target.shape, generator=generator),
        )
        target[torch.rand(target.shape, generator=generator) < 0.1] = 255
        macro.update(pred, target)
        per_class.update(pred, target)
        total += confusion_matrix(pred, target, num_classes)  # a caller's running (all-reduced) sum
    iou = iou_from_confusion(total)
    assert torch.isnan(iou[5])
    assert mean_iou(total) == pytest.approx(float(macro.compute()), abs=1e-6)  # torchmetrics is float32
    # torchmetrics' per-class ("none") result puts zero_division (default 0.0) for the absent class where we
    # put NaN; its "macro" average gives absent classes weight 0, i.e. the same nanmean as ours.
    tm_iou = per_class.compute().double()
    assert tm_iou[5] == 0.0
    torch.testing.assert_close(iou[:5], tm_iou[:5], atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------------------
# Classification: top-k
# ---------------------------------------------------------------------------------------------------------

TOPK_LOGITS = torch.tensor(
    [
        [0.1, 0.9, 0.3, 0.2],  # ranking 1, 2, 3, 0
        [0.8, 0.1, 0.05, 0.7],  # ranking 0, 3, 1, 2
        [0.2, 0.3, 0.4, 0.5],  # ranking 3, 2, 1, 0
    ]
)


def test_topk_correct_hand_computed() -> None:
    target = torch.tensor([1, 3, 1])  # ranks 1, 2, 3
    correct = topk_correct(TOPK_LOGITS, target, ks=(1, 2, 3))
    assert correct.dtype == torch.int64
    torch.testing.assert_close(correct, torch.tensor([1, 2, 3]))


def test_topk_correct_soft_labels_and_k_clamped() -> None:
    soft = torch.tensor(
        [
            [0.05, 0.85, 0.05, 0.05],  # argmax 1: rank 1
            [0.1, 0.2, 0.6, 0.1],  # argmax 2: rank 4
            [0.3, 0.3, 0.1, 0.3 + 1e-3],  # argmax 3 (mixup-like): rank 1
        ]
    )
    # k = 5 exceeds C = 4 and is clamped to 4: every sample counts.
    torch.testing.assert_close(topk_correct(TOPK_LOGITS, soft), torch.tensor([2, 3]))
    torch.testing.assert_close(topk_correct(TOPK_LOGITS, soft.argmax(1)), torch.tensor([2, 3]))
    with pytest.raises(ValueError, match="k values"):
        topk_correct(TOPK_LOGITS, soft, ks=(0,))


# ---------------------------------------------------------------------------------------------------------
# Super-resolution: Y channel, PSNR, SSIM, protocol
# ---------------------------------------------------------------------------------------------------------


def test_rgb_to_y_known_values() -> None:
    colours = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0, 0, 1.0]])
    images = colours.view(5, 3, 1, 1).expand(5, 3, 2, 2)
    y = rgb_to_y(images)
    assert y.shape == (5, 1, 2, 2) and y.dtype == torch.float64
    # white 16 + 219, black 16, red 16 + 65.481, green 16 + 128.553, blue 16 + 24.966
    expected = torch.tensor([235.0, 16.0, 81.481, 144.553, 40.966], dtype=torch.float64)
    torch.testing.assert_close(y[:, 0, 0, 0], expected)
    assert rgb_to_y(torch.rand(3, 4, 5)).shape == (1, 4, 5)  # leading dims are optional


def test_crop_border() -> None:
    image = torch.arange(2 * 6 * 7).view(1, 2, 6, 7)
    torch.testing.assert_close(crop_border(image, 2), image[..., 2:4, 2:5])
    assert crop_border(image, 0) is image
    with pytest.raises(ValueError, match="nothing"):
        crop_border(image, 3)


def test_psnr_known_mse_and_identical_is_inf() -> None:
    target = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 200
    pred = target.clone()
    pred[0] += 5.0  # constant offset 5 on the 0-255 scale: MSE 25
    value = psnr(pred, target)
    assert value.dtype == torch.float64 and value.shape == (2,)
    assert value[0].item() == pytest.approx(10 * math.log10(255**2 / 25))  # 34.1514 dB
    assert value[1].item() == math.inf
    # The same error on the [0, 1] scale with data_range 1 gives the same dB.
    assert psnr(pred / 255, target / 255, data_range=1.0)[0].item() == pytest.approx(value[0].item())


def test_ssim_identical_and_constant_images() -> None:
    image = torch.rand(2, 3, 16, 20, generator=torch.Generator().manual_seed(2)) * 255
    torch.testing.assert_close(ssim(image, image), torch.ones(2, dtype=torch.float64))
    # Two flat images a, b: variances and covariance vanish, so SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 100.0, 110.0, (0.01 * 255) ** 2
    value = ssim(torch.full((1, 1, 12, 12), a), torch.full((1, 1, 12, 12), b))
    torch.testing.assert_close(
        value, torch.tensor([(2 * a * b + c1) / (a**2 + b**2 + c1)], dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(image[..., :10], image[..., :10])


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(channels: int) -> None:
    from skimage.metrics import structural_similarity

    generator = torch.Generator().manual_seed(3)
    target = F.interpolate(torch.rand(2, channels, 8, 9, generator=generator), size=(30, 37), mode="bilinear")
    target = target * 255
    pred = (target + 20 * torch.randn(target.shape, generator=generator)).clamp(0, 255)
    ours = ssim(pred, target)
    # skimage filters with a Gaussian of radius int(3.5 * 1.5 + 0.5) = 5 (the same 11x11 window) after reflect
    # padding, then averages the map after cropping (win_size - 1) // 2 = 5 pixels per side: exactly the
    # 'valid' region, whose windows never touch the padding. The two agree up to float64 rounding of the
    # different summation order, hence the 1e-10 tolerance.
    theirs = [
        structural_similarity(
            p.double().numpy(),
            t.double().numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=0,
        )
        for p, t in zip(pred, target, strict=True)
    ]
    torch.testing.assert_close(ours, torch.tensor(theirs, dtype=torch.float64), atol=1e-10, rtol=0)
    assert 0.1 < ours.min() < ours.max() < 0.99  # a non-trivial comparison


def test_sr_psnr_ssim_crops_border_and_quantises() -> None:
    scale = 3
    generator = torch.Generator().manual_seed(4)
    hr = torch.round(torch.rand(2, 3, 24, 24, generator=generator) * 255) / 255  # an 8-bit image
    sr = hr.clone()
    sr[0, :, :scale] = 0.0  # wrong only inside the cropped border
    sr[1] += 0.4 / 255  # below half an 8-bit level: quantised away
    sr[1, :, -scale:] = 3.0  # out of range in the border: clamped, then cropped
    value_psnr, value_ssim = sr_psnr_ssim(sr, hr, scale=scale)
    assert value_psnr.dtype == value_ssim.dtype == torch.float64
    assert torch.isinf(value_psnr).all()
    torch.testing.assert_close(value_ssim, torch.ones(2, dtype=torch.float64))


def test_sr_psnr_ssim_equals_its_steps() -> None:
    scale = 2
    generator = torch.Generator().manual_seed(5)
    hr = torch.rand(2, 3, 20, 22, generator=generator)
    sr = hr + 0.05 * torch.randn(hr.shape, generator=generator)  # some values fall outside [0, 1]
    value_psnr, value_ssim = sr_psnr_ssim(sr, hr, scale=scale)
    sr_y = crop_border(rgb_to_y(torch.round(sr.clamp(0, 1) * 255) / 255), scale)
    hr_y = crop_border(rgb_to_y(torch.round(hr * 255) / 255), scale)
    assert sr_y.shape == (2, 1, 16, 18)
    torch.testing.assert_close(value_psnr, psnr(sr_y, hr_y))
    torch.testing.assert_close(value_ssim, ssim(sr_y, hr_y))
    assert 20 < value_psnr.min() < value_psnr.max() < 40
