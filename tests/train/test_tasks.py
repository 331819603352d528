"""The task callables: losses, the evaluation forward pass, and stats summed over batches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.train.tasks import build_task, segmentation_task, sr_task


class _StrideEight(nn.Module):
    """Stand-in segmenter: stride-8 logits that put all mass on class ``(x > 0)``; needs sizes % 32 == 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % 32 == 0 and x.shape[-1] % 32 == 0
        positive = F.avg_pool2d((x[:, :1] > 0).float(), 8)  # (B, 1, H/8, W/8)
        return torch.cat([1 - positive, positive], dim=1) * 10


def test_segmentation_predict_pads_crops_and_resizes_to_the_label_size() -> None:
    task = segmentation_task(2)
    image = -torch.ones(1, 3, 40, 48)
    image[..., :, 24:] = 1.0  # right half is class 1
    target = torch.zeros(1, 80, 96, dtype=torch.int64)
    target[..., 48:] = 1
    target[0, 0, 0] = 255
    prediction = task.predict(_StrideEight(), image, target)
    assert prediction.shape == (1, 80, 96)
    # Away from the class boundary and the zero padding below row 40 (80 at label size), it is exact.
    assert torch.equal(prediction[:, :64, :40], torch.zeros(1, 64, 40, dtype=torch.int64))
    assert torch.equal(prediction[:, :64, 56:], torch.ones(1, 64, 40, dtype=torch.int64))
    total = task.batch_stats(prediction, image, target) + task.batch_stats(prediction, image, target)
    metrics = task.summarize(total)
    assert 90 < metrics["mIoU"] <= 100
    assert total.sum() == 2 * (80 * 96 - 1)


def test_segmentation_loss_ignores_255_and_upsamples_logits() -> None:
    task = segmentation_task(3)
    logits = torch.zeros(2, 3, 4, 4, requires_grad=True)
    target = torch.full((2, 16, 16), 255, dtype=torch.int64)
    target[:, 0, 0] = 1
    loss = task.loss(logits, target)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(3.0)).item())
    loss.backward()
    assert logits.grad is not None


def test_classification_stats_and_summary() -> None:
    task = build_task("cls")
    logits = torch.tensor([[3.0, 2.0, 1.0, 0, 0, 0], [0.0, 1.0, 2.0, 3, 4, 5]])
    target = torch.tensor([0, 1])
    stats = task.batch_stats(logits, torch.empty(2), target)
    # Sample 1: class 0 ranks first. Sample 2: class 1 ranks fifth of six, inside the top 5.
    assert stats.tolist() == [1.0, 2.0, 2.0]
    assert task.summarize(stats) == {"top1": 50.0, "top5": 100.0}


def test_super_resolution_bicubic_model_scores_like_bicubic() -> None:
    task = sr_task(2)
    hr = torch.rand(2, 3, 32, 32)
    lr = F.interpolate(hr, scale_factor=0.5, mode="bicubic", antialias=True).clamp(0, 1)

    class Bicubic(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)

    output = task.predict(Bicubic(), lr, hr)
    metrics = task.summarize(task.batch_stats(output, lr, hr))
    assert metrics["psnr"] == pytest.approx(metrics["bicubic_psnr"])
    assert metrics["ssim"] == pytest.approx(metrics["bicubic_ssim"])
    assert 10 < metrics["psnr"] < 40
