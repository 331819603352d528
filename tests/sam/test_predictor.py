"""SamPredictor: preprocessing, prompt transforms, mask shapes, equality with a direct module call, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

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
    assert predictor.input_size == (683, 1024)  # the 1024 prompt frame, segment-anything's meaning
    assert predictor.encoder_input_size == (341, 512)  # longest side to the L model's 512
    assert (predictor.orig_h, predictor.orig_w) == (HEIGHT, WIDTH)
    assert (predictor.input_h, predictor.input_w) == (683, 1024)
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
    # The image region: resized to 341x512 by PIL as the official predictor does (uint8 out), then
    # (pixel / 255 - mean) / std.
    info = model.info
    resized = np.array(Image.fromarray(image).resize((512, 341), Image.Resampling.BILINEAR))  # (341, 512, 3)
    pixels = torch.from_numpy(resized).permute(2, 0, 1)[None].float() / 255  # (1, 3, 341, 512)
    expected = (pixels - torch.tensor(info.mean).view(3, 1, 1)) / torch.tensor(info.std).view(3, 1, 1)
    torch.testing.assert_close(x[:, :, :341], expected, rtol=0, atol=1e-6)
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
    torch.testing.assert_close(box, torch.tensor([[0.0, 0.0, 1024.0, 683.0]]))  # (B, 4)


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
    assert predictor.original_size is None and predictor.input_size is None  # as segment-anything
    predictor.features = torch.zeros(1, 256, 64, 64)  # pretend an image was set, then forget it
    predictor.reset_image()
    with pytest.raises(EfficientViTError, match="set_image"):
        predictor.predict_torch(None, None, boxes=torch.zeros(1, 4))


def test_needs_a_sam_model() -> None:
    with pytest.raises(EfficientViTError, match="efficientvit-sam"):
        SamPredictor(torch.nn.Linear(2, 2))


# ------------------------------------------------ segment-anything's API, called as its documentation does


def test_segment_anything_single_point_and_batched_boxes(predictor: SamPredictor, image: np.ndarray) -> None:
    """The calls of segment-anything's predictor example notebook, unchanged."""
    input_point = np.array([[120, 80]])
    input_label = np.array([1])
    masks, scores, logits = predictor.predict(
        point_coords=input_point, point_labels=input_label, multimask_output=True
    )
    assert masks.shape == (3, HEIGHT, WIDTH) and scores.shape == (3,) and logits.shape == (3, 256, 256)
    mask_input = logits[np.argmax(scores), :, :]
    masks, _, _ = predictor.predict(
        point_coords=input_point,
        point_labels=input_label,
        mask_input=mask_input[None, :, :],
        multimask_output=False,
    )
    assert masks.shape == (1, HEIGHT, WIDTH)
    input_boxes = torch.tensor([[10, 10, 100, 90], [120, 40, 230, 150]], device=predictor.device)
    transformed_boxes = predictor.transform.apply_boxes_torch(input_boxes, image.shape[:2])
    masks, _, _ = predictor.predict_torch(
        point_coords=None, point_labels=None, boxes=transformed_boxes, multimask_output=False
    )
    assert masks.shape == (2, 1, HEIGHT, WIDTH) and masks.dtype == torch.bool
    one, _, _ = predictor.predict(box=np.array([120, 40, 230, 150]), multimask_output=False)
    assert (one[0] == masks[1, 0].numpy()).mean() > 0.999


def _fresh_embedding(model: torch.nn.Module, image: np.ndarray) -> torch.Tensor:
    """``set_image``'s embedding computed now (thread counts set by earlier tests move the last bits)."""
    reference = SamPredictor(model)
    reference.set_image(image)
    return reference.get_image_embedding()


def test_set_torch_image_after_transform_apply_image(model: torch.nn.Module, image: np.ndarray) -> None:
    """segment-anything's ``apply_image`` + ``set_torch_image`` path encodes what ``set_image`` does."""
    expected = _fresh_embedding(model, image)
    other = SamPredictor(model)
    input_image = other.transform.apply_image(image)
    assert input_image.shape == (341, 512, 3)  # the encoder's frame of an L model
    input_image_torch = torch.as_tensor(input_image, device=other.device)
    input_image_torch = input_image_torch.permute(2, 0, 1).contiguous()[None, :, :, :]
    other.set_torch_image(input_image_torch, image.shape[:2])
    torch.testing.assert_close(other.get_image_embedding(), expected, rtol=0, atol=0)
    assert other.input_size == (683, 1024) and other.original_size == (HEIGHT, WIDTH)
    with pytest.raises(EfficientViTError, match="apply_image"):
        other.set_torch_image(torch.zeros(1, 3, 300, 400), image.shape[:2])


def test_bgr_images(model: torch.nn.Module, image: np.ndarray) -> None:
    expected = _fresh_embedding(model, image)
    bgr = SamPredictor(model)
    bgr.set_image(image[..., ::-1], image_format="BGR")  # as cv2.imread gives it
    torch.testing.assert_close(bgr.get_image_embedding(), expected, rtol=0, atol=0)
    with pytest.raises(EfficientViTError, match="image_format"):
        bgr.set_image(image, image_format="RGBA")


def test_errors_are_runtime_errors_where_segment_anything_raises_them(model: torch.nn.Module) -> None:
    fresh = SamPredictor(model)
    with pytest.raises(RuntimeError, match="set_image"):
        fresh.predict_torch(None, None, boxes=torch.zeros(1, 4))
    with pytest.raises(RuntimeError, match="set_image"):
        fresh.get_image_embedding()


def test_a_thread_never_gets_masks_of_another_threads_image(
    model: torch.nn.Module, image: np.ndarray
) -> None:
    import threading

    from efficientvit.errors import ConcurrentUseError

    shared = SamPredictor(model)
    shared.set_image(image)  # this thread's image
    other = threading.Thread(target=shared.set_image, args=(image[::-1].copy(),))
    other.start()
    other.join()
    with pytest.raises(ConcurrentUseError, match="its own SamPredictor"):
        shared.predict(np.array([[10.0, 10.0]]), np.array([1]))
    # Setting in one thread and predicting in another (a GUI's worker) is fine.
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(shared.predict(box=np.array([0, 0, 50, 50]))))
    worker.start()
    worker.join()
    assert len(results) == 1 and results[0][0].shape == (3, HEIGHT, WIDTH)


@pytest.mark.parametrize("shape", [(1, 700), (700, 1)])
def test_one_pixel_wide_images_give_masks(model: torch.nn.Module, shape: tuple[int, int]) -> None:
    predictor = SamPredictor(model)
    predictor.set_image(np.full((*shape, 3), 128, dtype=np.uint8))
    masks, scores, _ = predictor.predict(box=np.array([0, 0, shape[1] - 1, shape[0] - 1]))
    assert masks.shape == (3, *shape) and np.isfinite(scores).all()


def test_set_image_batch_and_image_index(model: torch.nn.Module, image: np.ndarray) -> None:
    """The official predictor's batch API: preprocessed (B, 3, 512, 512) images, prompts per image."""
    from efficientvit.tasks import sam as sam_task

    images = [image, image[::-1].copy()]
    singles = []
    for one in images:
        single = SamPredictor(model)
        single.set_image(one)
        singles.append(single)
    info = model.info
    pixels = [torch.from_numpy(one).permute(2, 0, 1) for one in images]  # (3, H, W) each
    batch = torch.cat([sam_task.preprocess(p, 512, info.mean, info.std)[0] for p in pixels])
    assert batch.shape == (2, 3, 512, 512)
    predictor = SamPredictor(model)
    predictor.set_image_batch(batch)
    assert predictor.original_size == (512, 512) and predictor.get_image_embedding().shape == (2, 256, 64, 64)
    boxes = torch.tensor([[100.0, 100.0, 600.0, 500.0]])  # the 1024 frame
    for index, single in enumerate(singles):
        _, scores, low_res = predictor.predict_torch(boxes=boxes, image_index=index)
        _, expected_scores, expected_low_res = single.predict_torch(boxes=boxes)
        torch.testing.assert_close(low_res, expected_low_res, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(scores, expected_scores, rtol=1e-4, atol=1e-4)
    with pytest.raises(EfficientViTError, match="image_index"):
        predictor.predict_torch(boxes=boxes)
    with pytest.raises(EfficientViTError, match="image_index"):
        predictor.predict_torch(boxes=boxes, image_index=2)
    with pytest.raises(EfficientViTError, match=r"\(B, 3, 512, 512\)"):
        predictor.set_image_batch(batch[:, :, :100])


def test_encode_images_then_set_encoded_equals_set_image(model: torch.nn.Module, image: np.ndarray) -> None:
    """Several images encoded up front (as the automatic generator encodes its crops) set the same state
    and give the same masks as ``set_image`` of each."""
    images = [image, np.ascontiguousarray(image[20:140, 30:200])]  # the photo and a crop of another size
    batch = SamPredictor(model)
    encoded = batch.encode_images(images)
    assert len(encoded) == 2 and batch.encode_images([]) == []
    point = {"point_coords": np.array([[60.0, 50.0]]), "point_labels": np.array([1])}
    for picture, one in zip(images, encoded, strict=True):
        reference = SamPredictor(model)
        reference.set_image(picture)
        batch.set_encoded(one)
        torch.testing.assert_close(
            batch.get_image_embedding(), reference.get_image_embedding(), rtol=0, atol=0
        )
        assert batch.original_size == reference.original_size == picture.shape[:2]
        assert batch.input_size == reference.input_size
        assert batch.encoder_input_size == reference.encoder_input_size
        masks, scores, _ = batch.predict(**point)
        expected_masks, expected_scores, _ = reference.predict(**point)
        np.testing.assert_array_equal(masks, expected_masks)
        np.testing.assert_allclose(scores, expected_scores, rtol=0, atol=0)
