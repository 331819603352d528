"""``resize_cubic_opencv`` against OpenCV itself on random uint8 images of odd sizes, down and up."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from efficientvit.tasks.opencv_resize import resize_cubic_opencv

cv2 = pytest.importorskip("cv2")


@pytest.fixture
def opencv_own_code() -> Iterator[None]:
    """OpenCV's own resize code: without this its x86 wheels hand 8-bit cubic resizes to Intel IPP."""
    cv2.setUseOptimized(False)
    yield
    cv2.setUseOptimized(True)


SIZES = [  # (H, W) -> (h, w)
    ((150, 209), (256, 368)),  # ADE20K-like: the shorter side to 256, the longer rounded up to 32
    ((209, 150), (368, 256)),
    ((97, 131), (41, 67)),  # down, odd
    ((37, 53), (103, 29)),  # up in one axis, down in the other
    ((40, 90), (256, 512)),  # a large upscale
    ((5, 7), (3, 2)),
    ((1, 9), (4, 5)),
]


@pytest.mark.parametrize(("source", "target"), SIZES)
@pytest.mark.parametrize("channels", [3, 1])
def test_equals_opencv_inter_cubic_bit_for_bit(
    opencv_own_code: None, source: tuple[int, int], target: tuple[int, int], channels: int
) -> None:
    rng = np.random.default_rng(source[0] * 1000 + source[1] + channels)
    image = rng.integers(0, 256, (*source, channels), dtype=np.uint8)
    expected = cv2.resize(image, target[::-1], interpolation=cv2.INTER_CUBIC).reshape(*target, channels)
    ours = resize_cubic_opencv(torch.from_numpy(image).permute(2, 0, 1), target)  # (C, h, w)
    assert ours.dtype == torch.uint8
    assert np.array_equal(ours.permute(1, 2, 0).numpy(), expected)


def test_batches_and_equal_sizes() -> None:
    images = torch.randint(0, 256, (2, 3, 30, 41), dtype=torch.uint8)
    both = resize_cubic_opencv(images, (64, 89))
    assert torch.equal(both[1], resize_cubic_opencv(images[1], (64, 89)))
    assert resize_cubic_opencv(images, (30, 41)) is images  # OpenCV copies an equal size unchanged
    with pytest.raises(TypeError, match="uint8"):
        resize_cubic_opencv(images.float(), (8, 8))


def test_opencv_accelerated_path_is_within_one_level() -> None:
    """What the x86 wheels run by default (Intel IPP) is off by at most 1, and on a small share of values."""
    image = np.random.default_rng(0).integers(0, 256, (150, 209, 3), dtype=np.uint8)
    accelerated = cv2.resize(image, (368, 256), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    ours = resize_cubic_opencv(torch.from_numpy(image).permute(2, 0, 1), (256, 368)).permute(1, 2, 0)
    difference = np.abs(ours.numpy().astype(np.int16) - accelerated)
    assert difference.max() <= 1 and difference.mean() < 0.1
