"""SamPredictor: preprocessing, prompt transforms, mask shapes, equality with a direct module call, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from efficientvit.errors import EfficientViTError
from efficientvit.sam import SamPredictor

HEIGHT, WIDTH = 160, 240


@pytest.fixture(scope="module")
def model(sam_l0: torch.nn.Module) -> torch.nn.Module:
    return sam_l0


@pytest.fixture(scope="module")
def image(sample_photo) -> np.ndarray:
    """scikit-image's coffee photo (400x600) downscaled to 160x240, (H, W, 3) uint8."""
    return sample_photo("coffee", HEIGHT, WIDTH)


@pytest.fixture(scope="module")
def predictor(model: torch.nn.Module, image: np.ndarray) -> SamPredictor:
    predictor = SamPredictor(model)
    predictor.set_image(image)
    return predictor


def test_set_image_state(predictor: SamPredictor) -> None:
    assert predictor.is_image_set
    assert predictor.original_size == (HEIGHT, WIDTH)
    assert predictor.image_size == 512
    assert predictor.input_size == (341, 512)  # longest side to 512, segment-anything's rounding
    assert predictor.get_image_embedding().shape == (1, 256, 64, 64)


def test_set_image_tensor_input_and_padding(
    model: torch.nn.Module, image: np.ndarray, predictor: SamPredictor
) -> None:
    """A (3, H, W) tensor gives the same embedding; the encoder sees a 512 square padded bottom/right."""
    seen: list[torch.Tensor] = []
    hook = model.image_encoder.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    try:
        from_tensor = SamPredictor(model)
        from_tensor.set_image(torch.from_numpy(image).permute(2, 0, 1))
    finally:
        hook.remove()
    x = seen[0]
    assert x.shape == (1, 3, 512, 512)
    assert (x[:, :, 341:, :] == 0).all() and not (x[:, :, 340, :] == 0).all()
    # The image region: resized (bilinear, antialiased) to 341x512, then (pixel / 255 - mean) / std.
    info = model.info
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, W)
    resized = F.interpolate(pixels, size=(341, 512), mode="bilinear", antialias=True)
    expected = (resized - torch.tensor(info.mean).view(3, 1, 1)) / torch.tensor(info.std).view(3, 1, 1)
    torch.testing.assert_close(x[:, :, :341], expected)
    torch.testing.assert_close(from_tensor.get_image_embedding(), predictor.get_image_embedding())


def test_masks_for_points(predictor: SamPredictor) -> None:
    masks, scores, low_res = predictor.predict(np.array([[120, 80], [30, 40]]), np.array([1, 0]))
    assert masks.shape == (3, HEIGHT, WIDTH) and masks.dtype == np.bool_
    assert scores.shape == (3,) and low_res.shape == (3, 256, 256)
    single, single_scores, _ = predictor.predict(np.array([[120, 80]]), np.array([1]), multimask_output=False)
    assert single.shape == (1, HEIGHT, WIDTH) and single_scores.shape == (1,)


def test_masks_for_box_and_points_with_box(predictor: SamPredictor) -> None:
    masks, scores, _ = predictor.predict(box=np.array([20, 30, 200, 150]), multimask_output=False)
    assert masks.shape == (1, HEIGHT, WIDTH) and scores.shape == (1,)
    masks, scores, low_res = predictor.predict(
        np.array([[120, 80]]), np.array([1]), box=np.array([20, 30, 200, 150]), return_logits=True
    )
    assert masks.shape == (3, HEIGHT, WIDTH) and masks.dtype == np.float32
    # The low-res logits feed back as mask_input.
    again, _, _ = predictor.predict(np.array([[120, 80]]), np.array([1]), mask_input=low_res[:1])
    assert again.shape == (3, HEIGHT, WIDTH)


def test_predict_torch_many_boxes(predictor: SamPredictor) -> None:
    boxes = torch.tensor([[20, 30, 200, 150], [0, 0, 60, 60], [100, 50, 239, 159]], dtype=torch.float32)
    masks, scores, low_res = predictor.predict_torch(
        None, None, boxes=predictor.transform_boxes(boxes), multimask_output=False
    )
    assert masks.shape == (3, 1, HEIGHT, WIDTH) and masks.dtype == torch.bool
    assert scores.shape == (3, 1) and low_res.shape == (3, 1, 256, 256)
    # Each batch row equals the single-box prediction.
    for i, box in enumerate(boxes):
        _, _, single = predictor.predict(box=box.numpy(), multimask_output=False)
        np.testing.assert_allclose(low_res[i].numpy(), single, atol=1e-5, rtol=0)


def test_prompt_coordinates_use_the_1024_frame(predictor: SamPredictor) -> None:
    """Original pixels scale by 1024 / max(H, W) (the frame is 683x1024 for a 160x240 image)."""
    points = predictor.transform_coords(torch.tensor([[240.0, 160.0], [120.0, 80.0]]))
    torch.testing.assert_close(points, torch.tensor([[1024.0, 683.0], [512.0, 341.5]]))
    box = predictor.transform_boxes(torch.tensor([0.0, 0.0, 240.0, 160.0]))
    torch.testing.assert_close(box, torch.tensor([0.0, 0.0, 1024.0, 683.0]))


def test_predict_equals_direct_module_call(model: torch.nn.Module, predictor: SamPredictor) -> None:
    coords, labels, box = (
        np.array([[120.0, 80.0], [30.0, 40.0]]),
        np.array([1, 0]),
        np.array([10, 20, 200, 150]),
    )
    masks, scores, low_res = predictor.predict(coords, labels, box=box, return_logits=True)

    scale = torch.tensor([1024 / 240, 683 / 160])
    points = (torch.tensor(coords, dtype=torch.float32) * scale)[None]  # (1, 2, 2)
    boxes = (torch.tensor(box, dtype=torch.float32).view(2, 2) * scale).view(1, 4)
    with torch.no_grad():
        sparse, dense = model.prompt_encoder(
            points=(points, torch.tensor(labels)[None]), boxes=boxes, masks=None
        )
        expected, expected_scores = model.mask_decoder(
            image_embeddings=predictor.get_image_embedding(),
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
    np.testing.assert_allclose(low_res, expected[0].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(scores, expected_scores[0].numpy(), atol=1e-5, rtol=0)
    # Postprocessing: to 1024x1024, crop the 683x1024 image region, resize to the original size.
    up = F.interpolate(expected, (1024, 1024), mode="bilinear", align_corners=False)[..., :683, :1024]
    expected_masks = F.interpolate(up, (HEIGHT, WIDTH), mode="bilinear", align_corners=False)[0]
    np.testing.assert_allclose(masks, expected_masks.numpy(), atol=1e-4, rtol=0)
    binary, _, _ = predictor.predict(coords, labels, box=box)
    np.testing.assert_array_equal(binary, masks > 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a prompt"),
        ({"point_coords": np.array([[1.0, 2.0]])}, "without point_labels"),
        ({"point_labels": np.array([1])}, "without point_coords"),
        ({"point_coords": np.array([1.0, 2.0]), "point_labels": np.array([1])}, r"shape \(N, 2\)"),
        ({"point_coords": np.zeros((2, 3)), "point_labels": np.array([1, 1])}, r"shape \(N, 2\)"),
        ({"point_coords": np.zeros((2, 2)), "point_labels": np.array([1])}, "one label per point"),
        ({"point_coords": np.zeros((1, 2)), "point_labels": np.array([5])}, "foreground"),
        ({"point_coords": [["a", "b"]], "point_labels": [1]}, "must be numbers"),
        ({"point_coords": np.array([[np.nan, 1.0]]), "point_labels": [1]}, "NaN"),
        ({"box": np.array([1, 2, 3])}, "4 numbers"),
        ({"box": np.array([50, 20, 10, 80])}, "x0 <= x1"),
        ({"box": np.array([300, 200, 400, 300])}, "entirely outside"),
        ({"box": np.array([-50, -50, -10, -10])}, "entirely outside"),
        ({"mask_input": np.zeros((256, 256))}, r"\(1, 256, 256\)"),
    ],
)
def test_bad_prompts_raise(predictor: SamPredictor, kwargs: dict, message: str) -> None:
    with pytest.raises(EfficientViTError, match=message):
        predictor.predict(**kwargs)


def test_bad_predict_torch_shapes_raise(predictor: SamPredictor) -> None:
    with pytest.raises(EfficientViTError, match=r"\(B, N, 2\)"):
        predictor.predict_torch(torch.zeros(2, 2), torch.ones(2))
    with pytest.raises(EfficientViTError, match=r"point_labels must have shape \(2, 1\)"):
        predictor.predict_torch(torch.zeros(2, 1, 2), torch.ones(3, 1))
    with pytest.raises(EfficientViTError, match=r"boxes must have shape \(B, 4\)"):
        predictor.predict_torch(None, None, boxes=torch.zeros(4))
    with pytest.raises(EfficientViTError, match="must be a torch tensor"):
        predictor.predict_torch(np.zeros((1, 1, 2)), torch.ones(1, 1))
    with pytest.raises(EfficientViTError, match="batch size"):
        predictor.predict_torch(torch.zeros(2, 1, 2), torch.ones(2, 1), boxes=torch.zeros(3, 4))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((16, 16, 3), dtype=np.float32), "uint8"),
        (np.zeros((16, 16), dtype=np.uint8), r"\(H, W, 3\)"),
        (np.zeros((3, 16, 16), dtype=np.uint8), r"\(H, W, 3\)"),
        (torch.zeros(16, 16, 3, dtype=torch.uint8), r"\(3, H, W\)"),
        (torch.zeros(3, 16, 16), "uint8"),
        ([[0, 1, 2]], "numpy array"),
        (np.zeros((0, 16, 3), dtype=np.uint8), "empty"),
    ],
)
def test_bad_images_raise(model: torch.nn.Module, bad: object, message: str) -> None:
    with pytest.raises(EfficientViTError, match=message):
        SamPredictor(model).set_image(bad)  # type: ignore[arg-type]


def test_predict_before_set_image_and_after_reset(model: torch.nn.Module) -> None:
    predictor = SamPredictor(model)
    assert not predictor.is_image_set
    with pytest.raises(EfficientViTError, match="set_image"):
        predictor.predict(np.array([[1.0, 1.0]]), np.array([1]))
    with pytest.raises(EfficientViTError, match="set_image"):
        _ = predictor.original_size
    predictor.features = torch.zeros(1, 256, 64, 64)  # pretend an image was set, then forget it
    predictor.reset_image()
    with pytest.raises(EfficientViTError, match="set_image"):
        predictor.predict_torch(None, None, boxes=torch.zeros(1, 4))


def test_needs_a_sam_model() -> None:
    with pytest.raises(EfficientViTError, match="efficientvit-sam"):
        SamPredictor(torch.nn.Linear(2, 2))
