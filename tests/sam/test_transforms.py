"""predictor.transform: segment-anything's ResizeLongestSide arithmetic for prompts, the encoder's frame for
images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientvit.errors import NoImageError
from efficientvit.sam.transforms import ResizeLongestSide


def _transform(current: tuple[int, int] | None = None) -> ResizeLongestSide:
    return ResizeLongestSide(512, lambda: current)


def test_prompts_map_to_the_1024_frame_with_segment_anythings_rounding() -> None:
    transform = _transform()
    # 333x517: the 1024 frame is int(333 * 1024 / 517 + 0.5) = 660 high.
    coords = transform.apply_coords(np.array([[517, 333], [0, 0]]), (333, 517))
    np.testing.assert_allclose(coords, [[1024.0, 333 * 660 / 333], [0.0, 0.0]])
    boxes = transform.apply_boxes(np.array([[0, 0, 517, 333]]), (333, 517))
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 1024.0, 660.0]])
    boxes_t = transform.apply_boxes_torch(torch.tensor([[0, 0, 517, 333]]), (333, 517))
    assert boxes_t.dtype == torch.float32
    torch.testing.assert_close(boxes_t, torch.tensor([[0.0, 0.0, 1024.0, 660.0]]))
    points_t = transform.apply_coords_torch(torch.tensor([[[258.5, 166.5]]]), (333, 517))
    torch.testing.assert_close(points_t, torch.tensor([[[512.0, 330.0]]]))


def test_original_size_defaults_to_the_current_image() -> None:
    coords = _transform((100, 50)).apply_coords(np.array([[50.0, 100.0]]))
    np.testing.assert_allclose(coords, [[512.0, 1024.0]])
    with pytest.raises(NoImageError, match="set_image"):
        _transform().apply_coords(np.array([[1.0, 1.0]]))


def test_images_go_to_the_encoders_frame() -> None:
    transform = _transform()
    image = np.random.default_rng(0).integers(0, 256, (333, 517, 3), dtype=np.uint8)
    assert transform.apply_image(image).shape == (330, 512, 3)
    batch = torch.rand(2, 3, 300, 400)
    assert transform.apply_image_torch(batch).shape == (2, 3, 384, 512)
    assert ResizeLongestSide.get_preprocess_shape(333, 517, 1024) == (660, 1024)
