"""Promptable segmentation on one image: segment-anything's ``SamPredictor`` API for EfficientViT-SAM.

The image is encoded once by :meth:`SamPredictor.set_image`; every prompt then costs only the prompt encoder
and the mask decoder. Prompts are points, boxes and low-resolution masks in the original image's pixels
(``predict``) or in the model's 1024x1024 prompt frame (``predict_torch``, as in segment-anything).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.errors import ConcurrentUseError, EfficientViTError, NoImageError
from efficientvit.models.sam.model import PROMPT_FRAME
from efficientvit.runtime import backend_for, resolve_backend, runner_for
from efficientvit.sam.decoder import DecodedMasks, decode_masks
from efficientvit.sam.transforms import ResizeLongestSide
from efficientvit.tasks import sam as sam_task
from efficientvit.tasks.common import normalize
from efficientvit.tasks.registry import is_task
from efficientvit.tasks.sam import LOW_RES, preprocess_shape

__all__ = ["EncodedImage", "SamPredictor", "image_tensor", "preprocess_shape"]

T = TypeVar("T")

POINT_LABELS = (-1, 0, 1, 2, 3)
"""segment-anything's point labels: padding, background, foreground, box top-left, box bottom-right."""


def float_array(value: object, name: str) -> np.ndarray:
    """``value`` as a float64 numpy array, or a one-line error naming ``name``."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EfficientViTError(f"{name} must be numbers, got {type(value).__name__}") from exc
    if not np.isfinite(array).all():
        raise EfficientViTError(f"{name} contains NaN or infinite values")
    return array


def image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Validate an (H, W, 3) uint8 array or a (3, H, W) uint8 tensor; return it as a (3, H, W) tensor."""
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
            raise EfficientViTError(
                f"the image must be a uint8 tensor of shape (3, H, W), got {image.dtype} "
                f"{tuple(image.shape)}; read files with efficientvit.data.images.read_image"
            )
        tensor = image
    elif isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise EfficientViTError(
                f"the image must be a uint8 RGB array of shape (H, W, 3), got {image.dtype} "
                f"{image.shape}; convert with e.g. np.asarray(pil_image.convert('RGB'))"
            )
        if not image.flags.writeable:  # e.g. np.asarray(pil_image): torch warns about sharing those
            image = image.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)  # (3, H, W)
    else:
        raise EfficientViTError(
            f"the image must be an (H, W, 3) uint8 numpy array or a (3, H, W) uint8 tensor, "
            f"got {type(image).__name__}"
        )
    if tensor.shape[1] == 0 or tensor.shape[2] == 0:
        raise EfficientViTError(f"the image is empty: shape {tuple(tensor.shape)}")
    return tensor


@dataclass(frozen=True)
class EncodedImage:
    """An image encoded by :meth:`SamPredictor.encode_images`."""

    features: torch.Tensor
    """(1, 256, 64, 64) image embedding."""
    encoder_input_size: tuple[int, int]
    """(h, w) the resized image covers in the encoder's padded square input."""
    original_size: tuple[int, int]
    """(H, W) of the image."""


def _serialised(method: Callable[..., T]) -> Callable[..., T]:
    """A method of :class:`SamPredictor` run under the predictor's lock."""

    @functools.wraps(method)
    def locked(self: SamPredictor, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class SamPredictor:
    """Encode an image once with :meth:`set_image`, then predict masks for any number of prompts.

    segment-anything's attributes keep their meaning: ``original_size`` (H, W) of the image (None until one
    is set), ``input_size`` the (h, w) it covers in the 1024 prompt frame (what ``postprocess_masks`` crops),
    ``transform`` a :class:`~efficientvit.sam.transforms.ResizeLongestSide`. L models encode a 512 square,
    so ``encoder_input_size`` is the (h, w) the image covers in the encoder's input (equal to
    ``input_size`` for XL models).

    One predictor holds one image: threads that each set their own image need a predictor each (they can
    share the model). A thread that set an image and then finds another thread's image in its place gets a
    :class:`~efficientvit.errors.ConcurrentUseError` instead of the other image's masks; calls themselves
    are serialised by a lock.

    ``backend`` runs the image encoder and the prompt decoder through :func:`efficientvit.runtime.runner_for`
    (default ``"auto"``: the fastest exact backend, on a CPU our ONNX exports in ONNX Runtime, prepared once);
    ``"eager"`` runs segment-anything's modules as they are. Decoding with gradients enabled (fine-tuning,
    :meth:`decode`) always runs eagerly.
    """

    def __init__(self, model: nn.Module, *, backend: str | None = "auto") -> None:
        info = getattr(model, "info", None)
        if not is_task(info, "sam"):
            raise EfficientViTError(
                "SamPredictor needs an EfficientViT-SAM model built by "
                "efficientvit.create_model('efficientvit-sam-...')"
            )
        self.model = model.eval()
        self.backend = resolve_backend(backend)
        self.image_size: int = info.resolution[0]
        """Side of the encoder's square input (512 for L models, 1024 for XL models)."""
        self._mean, self._std = info.mean, info.std
        self.transform = ResizeLongestSide(self.image_size, lambda: self.original_size)
        self._lock = threading.RLock()
        self._setters: set[int] = set()
        """Threads that have set an image on this predictor."""
        self._image_thread: int | None = None
        """The thread that set the current image."""
        self.reset_image()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def decoder_backend(self) -> str:
        """The backend the prompt decoder runs on now (``auto`` resolved: on a CPU ``fused``, the
        many-prompt decoder of :mod:`efficientvit.sam.decoder`)."""
        return backend_for(self.model, "sam_prompt_decoder", self.backend)

    @property
    def is_image_set(self) -> bool:
        return self.features is not None

    @property
    def orig_h(self) -> int | None:
        return None if self.original_size is None else self.original_size[0]

    @property
    def orig_w(self) -> int | None:
        return None if self.original_size is None else self.original_size[1]

    @property
    def input_h(self) -> int | None:
        return None if self.input_size is None else self.input_size[0]

    @property
    def input_w(self) -> int | None:
        return None if self.input_size is None else self.input_size[1]

    @_serialised
    def reset_image(self) -> None:
        """Forget the current image and its embedding."""
        self.features: torch.Tensor | None = None
        self.original_size: tuple[int, int] | None = None
        """(H, W) of the image given to :meth:`set_image`."""
        self.input_size: tuple[int, int] | None = None
        """(h, w) the resized image covers in the 1024 prompt frame (segment-anything's meaning)."""
        self.encoder_input_size: tuple[int, int] | None = None
        """(h, w) the resized image covers in the encoder's padded square input."""
        self._image_thread = None

    # ------------------------------------------------------------------ image

    @_serialised
    @torch.no_grad()
    def set_image(self, image: np.ndarray | torch.Tensor, image_format: str = "RGB") -> None:
        """Encode ``image``: an (H, W, 3) uint8 numpy array or a (3, H, W) uint8 tensor, its channels in
        ``image_format`` order ("RGB" or "BGR", as OpenCV reads files). Resized as the official predictor
        does (see :mod:`efficientvit.tasks.sam`)."""
        if image_format not in ("RGB", "BGR"):
            raise EfficientViTError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        pixels = image_tensor(image)  # (3, H, W) uint8
        if image_format == "BGR":
            pixels = pixels.flip(0)
        self.reset_image()
        x, size = sam_task.preprocess(pixels.to(self.device), self.image_size, self._mean, self._std)
        self._encode(x, size, (int(pixels.shape[1]), int(pixels.shape[2])))

    @_serialised
    @torch.no_grad()
    def encode_images(self, images: Sequence[np.ndarray | torch.Tensor]) -> list[EncodedImage]:
        """Encode several images (each as :meth:`set_image` takes it, RGB) without setting any: on a GPU in
        one encoder batch, on a CPU one after another (the encoder's ONNX Runtime graph takes one image).
        :meth:`set_encoded` then sets one of them without encoding it again."""
        prepared = []
        for image in images:
            pixels = image_tensor(image)  # (3, H, W) uint8
            x, size = sam_task.preprocess(pixels.to(self.device), self.image_size, self._mean, self._std)
            prepared.append((x, size, (int(pixels.shape[1]), int(pixels.shape[2]))))
        if not prepared:
            return []
        runner = runner_for(self.model, "sam_image_encoder", self.backend)
        step = 1 if self.device.type == "cpu" else len(prepared)
        features = torch.cat(
            [
                runner(torch.cat([x for x, _, _ in prepared[start : start + step]]))
                for start in range(0, len(prepared), step)
            ]
        )  # (B, 256, 64, 64)
        return [
            EncodedImage(features[i : i + 1], size, original)
            for i, (_, size, original) in enumerate(prepared)
        ]

    @_serialised
    def set_encoded(self, encoded: EncodedImage) -> None:
        """Set an image encoded by :meth:`encode_images` (of this predictor's model)."""
        self.reset_image()
        self._set_frames(encoded.features, encoded.encoder_input_size, encoded.original_size)

    @_serialised
    @torch.no_grad()
    def set_torch_image(self, transformed_image: torch.Tensor, original_image_size: Sequence[int]) -> None:
        """Encode an image already resized by ``transform.apply_image`` (or ``apply_image_torch``): a
        (1, 3, h, w) tensor of pixel values in [0, 255] whose longest side is the encoder's
        (``image_size``), with the (H, W) of the original image, as segment-anything's ``set_torch_image``."""
        x = transformed_image
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[:2] != (1, 3):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise EfficientViTError(f"set_torch_image takes a (1, 3, h, w) tensor, got {shape}")
        if max(x.shape[-2:]) != self.image_size:
            raise EfficientViTError(
                f"set_torch_image: the image's longest side must be the encoder's {self.image_size} "
                f"(resize it with predictor.transform.apply_image), got {tuple(x.shape[-2:])}"
            )
        if len(original_image_size) != 2 or min(original_image_size) < 1:
            raise EfficientViTError(
                f"original_image_size must be (H, W) in pixels, got {tuple(original_image_size)}"
            )
        height, width = x.shape[-2:]
        self.reset_image()
        x = normalize(x.to(self.device, torch.float32).contiguous(), self._mean, self._std)  # (1, 3, h, w)
        x = F.pad(x, (0, self.image_size - width, 0, self.image_size - height))  # (1, 3, side, side)
        self._encode(x, (int(height), int(width)), (int(original_image_size[0]), int(original_image_size[1])))

    @_serialised
    @torch.no_grad()
    def set_image_batch(self, images: torch.Tensor) -> None:
        """Encode B images already preprocessed for the encoder, (B, 3, side, side) resized, normalised and
        padded (:func:`efficientvit.tasks.sam.preprocess`), as the official predictor's ``set_image_batch``:
        ``original_size`` is then (side, side), and ``predict_torch(..., image_index=i)`` decodes prompts
        on image ``i``."""
        side = self.image_size
        if (
            not isinstance(images, torch.Tensor)
            or images.ndim != 4
            or images.shape[0] == 0
            or tuple(images.shape[1:]) != (3, side, side)
        ):
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise EfficientViTError(
                f"set_image_batch takes a (B, 3, {side}, {side}) tensor of preprocessed images, got {shape}"
            )
        self.reset_image()
        self._encode(images.to(self.device, torch.float32), (side, side), (side, side))

    def _embedding(self, image_index: int | None) -> torch.Tensor:
        """The (1, 256, 64, 64) embedding prompts are decoded on."""
        self._require_image()
        assert self.features is not None
        images = self.features.shape[0]
        if image_index is None:
            if images != 1:
                raise EfficientViTError(
                    f"{images} images are set (set_image_batch): pass image_index to say which to decode on"
                )
            return self.features
        if not 0 <= image_index < images:
            raise EfficientViTError(f"image_index must be in [0, {images}), got {image_index}")
        return self.features[image_index : image_index + 1]

    def _encode(self, x: torch.Tensor, size: tuple[int, int], original_size: tuple[int, int]) -> None:
        """Run the encoder on padded (B, 3, side, side) inputs and record the images' frames."""
        features = runner_for(self.model, "sam_image_encoder", self.backend)(x)  # (B, 256, 64, 64)
        self._set_frames(features, size, original_size)

    def _set_frames(
        self, features: torch.Tensor, size: tuple[int, int], original_size: tuple[int, int]
    ) -> None:
        """Make ``features`` the current embedding of an image of ``original_size`` that covers ``size``
        of the encoder's input."""
        self.features = features
        self.original_size = original_size
        self.input_size = preprocess_shape(*original_size, PROMPT_FRAME)
        self.encoder_input_size = size
        thread = threading.get_ident()
        self._setters.add(thread)
        self._image_thread = thread

    @_serialised
    def get_image_embedding(self) -> torch.Tensor:
        """The (1, 256, 64, 64) embedding of the current image ((B, ...) after :meth:`set_image_batch`)."""
        self._require_image()
        assert self.features is not None
        return self.features

    def _require_image(self) -> None:
        if self.features is None:
            raise NoImageError("no image is set; call SamPredictor.set_image(image) before predicting")
        thread = threading.get_ident()
        if thread in self._setters and self._image_thread != thread:
            raise ConcurrentUseError(
                "another thread replaced this SamPredictor's image since this thread set its own; give each "
                "thread its own SamPredictor (they can share the model)"
            )

    # ---------------------------------------------------------- coordinates

    def transform_coords(self, coords: torch.Tensor) -> torch.Tensor:
        """(..., 2) (x, y) points in original pixels to the prompt frame, for :meth:`predict_torch`
        (``transform.apply_coords_torch`` for the current image)."""
        self._require_image()
        return self.transform.apply_coords_torch(coords)

    def transform_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """(B, 4) (x0, y0, x1, y1) boxes in original pixels to the prompt frame
        (``transform.apply_boxes_torch`` for the current image)."""
        self._require_image()
        return self.transform.apply_boxes_torch(boxes)

    # ----------------------------------------------------------- prediction

    @_serialised
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks for one prompt on the current image.

        ``point_coords`` is (N, 2) (x, y) in original pixels with ``point_labels`` (N,) (1 foreground,
        0 background); ``box`` is (x0, y0, x1, y1) in original pixels; ``mask_input`` is a (1, 256, 256)
        low-resolution logit mask from an earlier call. Returns masks (C, H, W) (bool, or float logits with
        ``return_logits``), scores (C,) and low-resolution logits (C, 256, 256); C is 3 with
        ``multimask_output`` else 1.
        """
        self._require_image()
        if point_labels is not None and point_coords is None:
            raise EfficientViTError("point_labels given without point_coords; pass both or neither")
        if point_coords is None and box is None and mask_input is None:
            raise EfficientViTError(
                "predict needs a prompt: point_coords with point_labels, a box, or mask_input"
            )
        coords = labels = boxes = masks = None
        if point_coords is not None:
            coords, labels = self._check_points(point_coords, point_labels)
            coords = self.transform_coords(coords)[None]  # (1, N, 2)
            labels = labels[None]  # (1, N)
        if box is not None:
            boxes = self.transform_boxes(self._check_box(box))  # (1, 4)
        if mask_input is not None:
            masks = self._check_mask_input(mask_input)[None]  # (1, 1, 256, 256)
        out_masks, scores, low_res = self.predict_torch(
            coords, labels, boxes, masks, multimask_output=multimask_output, return_logits=return_logits
        )
        return out_masks[0].cpu().numpy(), scores[0].cpu().numpy(), low_res[0].cpu().numpy()

    def _check_points(self, point_coords: object, point_labels: object) -> tuple[torch.Tensor, torch.Tensor]:
        if point_labels is None:
            raise EfficientViTError(
                "point_coords given without point_labels (1 = foreground, 0 = background)"
            )
        coords = float_array(point_coords, "point_coords")
        if coords.ndim != 2 or coords.shape[1] != 2 or coords.shape[0] == 0:
            raise EfficientViTError(
                f"point_coords must have shape (N, 2) of (x, y) pixels, got {coords.shape}"
            )
        labels = float_array(point_labels, "point_labels")
        if labels.ndim != 1 or labels.shape[0] != coords.shape[0]:
            raise EfficientViTError(
                f"point_labels must have shape ({coords.shape[0]},), one label per point, got {labels.shape}"
            )
        if not np.isin(labels, POINT_LABELS).all():
            raise EfficientViTError(
                f"point_labels must be 1 (foreground) or 0 (background), got {labels.tolist()}"
            )
        device = self.device
        return torch.as_tensor(coords, dtype=torch.float32, device=device), torch.as_tensor(
            labels, dtype=torch.int64, device=device
        )

    def _check_box(self, box: object) -> torch.Tensor:
        values = float_array(box, "box")
        if values.size != 4 or values.ndim > 2 or (values.ndim == 2 and values.shape[0] != 1):
            raise EfficientViTError(
                f"box must be 4 numbers (x0, y0, x1, y1) in pixels, got shape {values.shape}"
            )
        x0, y0, x1, y1 = values.reshape(4).tolist()
        if x1 < x0 or y1 < y0:
            raise EfficientViTError(
                f"box must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, got {values.tolist()}"
            )
        assert self.original_size is not None
        height, width = self.original_size
        if x1 < 0 or y1 < 0 or x0 > width or y0 > height:
            raise EfficientViTError(
                f"box {values.reshape(4).tolist()} lies entirely outside the {width}x{height} (WxH) image"
            )
        return torch.tensor([x0, y0, x1, y1], dtype=torch.float32, device=self.device)

    def _check_mask_input(self, mask_input: object) -> torch.Tensor:
        values = float_array(mask_input, "mask_input")
        if values.shape != (1, LOW_RES, LOW_RES):
            raise EfficientViTError(
                f"mask_input must have shape (1, {LOW_RES}, {LOW_RES}) (low-res logits from an earlier "
                f"predict), got {values.shape}"
            )
        return torch.as_tensor(values, dtype=torch.float32, device=self.device)

    @_serialised
    @torch.no_grad()
    def predict_torch(
        self,
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        image_index: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Masks for a batch of B prompts on the current image, in one prompt-encoder/mask-decoder call.

        As in segment-anything, coordinates are already in the 1024 prompt frame (see
        :meth:`transform_coords` and :meth:`transform_boxes`): ``point_coords`` (B, N, 2),
        ``point_labels`` (B, N), ``boxes`` (B, 4), ``mask_input`` (B, 1, 256, 256). Returns masks
        (B, C, H, W) at the original size, scores (B, C) and low-resolution logits (B, C, 256, 256).
        """
        self._require_image()
        batch = self._check_batch(point_coords, point_labels, boxes, mask_input)
        low_res, scores = self.decode(
            point_coords, point_labels, boxes, mask_input, multimask_output, image_index
        )
        assert low_res.shape[0] == batch
        if return_logits:
            return self.postprocess_masks(low_res), scores, low_res
        assert self.original_size is not None
        return sam_task.binary_masks(low_res, self.original_size), scores, low_res

    @_serialised
    @torch.no_grad()
    def decode_masks(
        self,
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        *,
        outputs: slice = slice(None),
        keep: Callable[[torch.Tensor], torch.Tensor] | None = None,
        image_index: int | None = None,
    ) -> DecodedMasks:
        """B prompts in the 1024 frame (points (B, N, 2) with labels (B, N), boxes (B, 4), or both), no mask
        prompt, through the many-prompt decoder (:func:`efficientvit.sam.decoder.decode_masks`): IoU
        predictions for every prompt, low-resolution masks of the ``outputs`` only for the prompts that
        ``keep`` accepts."""
        embedding = self._embedding(image_index)  # (1, 256, 64, 64)
        encoder = self.model.prompt_encoder
        device = self.device
        points = None
        if point_coords is not None:
            assert point_labels is not None
            points = (point_coords.to(device, torch.float32), point_labels.to(device))
        box_corners = None if boxes is None else boxes.to(device, torch.float32)
        sparse, _ = encoder(points=points, boxes=box_corners, masks=None)  # (B, n, 256)
        no_mask = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)  # the dense embedding of every prompt
        return decode_masks(
            self.model.mask_decoder, embedding, encoder.get_dense_pe(), sparse, no_mask, outputs, keep
        )

    def decode(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
        image_index: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt encoder + mask decoder on the current embedding (image ``image_index`` of
        :meth:`set_image_batch`), with gradients if enabled (fine-tuning).

        Takes checked prompts in the 1024 frame (see :meth:`predict_torch`); returns the low-resolution
        logits (B, C, 256, 256) and the predicted IoU scores (B, C).
        """
        embedding = self._embedding(image_index)  # (1, 256, 64, 64)
        if not torch.is_grad_enabled() and (point_coords is not None or boxes is not None):
            runner = runner_for(self.model, "sam_prompt_decoder", self.backend)
            if getattr(runner, "requested", None) != "eager":
                return self._decode_graph(
                    runner, embedding, point_coords, point_labels, boxes, mask_input, multimask_output
                )
        points = None
        if point_coords is not None:
            assert point_labels is not None
            device = self.device
            points = (point_coords.to(device, torch.float32), point_labels.to(device))
        sparse, dense = self.model.prompt_encoder(
            points=points,
            boxes=None if boxes is None else boxes.to(self.device, torch.float32),
            masks=None if mask_input is None else mask_input.to(self.device, torch.float32),
        )
        low_res, scores = self.model.mask_decoder(
            image_embeddings=embedding,
            image_pe=self.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
        )  # (B, C, 256, 256), (B, C)
        return low_res, scores

    def _decode_graph(
        self,
        runner: object,
        embedding: torch.Tensor,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`decode` through the exported prompt-decoder graph (``SamPromptDecoder``): boxes become two
        corner points labelled 2 and 3 after the clicks, and without a box one padding point (0, 0)
        labelled -1 is appended, exactly as segment-anything's prompt encoder does."""
        device = self.device
        coords, labels = [], []
        if point_coords is not None:
            assert point_labels is not None
            coords.append(point_coords.to(device, torch.float32))  # (B, N, 2)
            labels.append(point_labels.to(device, torch.float32))  # (B, N)
        if boxes is not None:
            batch = boxes.shape[0]
            coords.append(boxes.to(device, torch.float32).reshape(batch, 2, 2))  # (B, 2, 2): the two corners
            labels.append(torch.tensor([[2.0, 3.0]], device=device).expand(batch, 2))
        else:
            batch = coords[0].shape[0]
            coords.append(torch.zeros(batch, 1, 2, device=device))
            labels.append(torch.full((batch, 1), -1.0, device=device))
        if mask_input is None:
            masks, has_mask = (
                torch.zeros(batch, 1, LOW_RES, LOW_RES, device=device),
                torch.zeros(1, device=device),
            )
        else:
            masks, has_mask = mask_input.to(device, torch.float32), torch.ones(1, device=device)
        low_res, scores = runner(
            embedding, torch.cat(coords, dim=1), torch.cat(labels, dim=1), masks, has_mask
        )
        keep = slice(1, None) if multimask_output else slice(0, 1)  # (B, 4, ...): single-mask output first
        return low_res[:, keep], scores[:, keep]

    def _check_batch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        mask_input: torch.Tensor | None,
    ) -> int:
        """Check the batched prompt shapes and return the batch size B."""
        prompts = {
            "point_coords": point_coords,
            "point_labels": point_labels,
            "boxes": boxes,
            "mask_input": mask_input,
        }
        for name, value in prompts.items():
            if value is not None and not isinstance(value, torch.Tensor):
                raise EfficientViTError(
                    f"predict_torch: {name} must be a torch tensor (predict takes numpy prompts in pixels), "
                    f"got {type(value).__name__}"
                )
        sizes: list[int] = []
        if point_coords is not None:
            if point_labels is None:
                raise EfficientViTError("point_coords given without point_labels; pass both or neither")
            if point_coords.ndim != 3 or point_coords.shape[-1] != 2:
                raise EfficientViTError(
                    f"predict_torch: point_coords must have shape (B, N, 2), got {tuple(point_coords.shape)}"
                )
            if tuple(point_labels.shape) != tuple(point_coords.shape[:2]):
                raise EfficientViTError(
                    f"predict_torch: point_labels must have shape {tuple(point_coords.shape[:2])} (B, N), "
                    f"got {tuple(point_labels.shape)}"
                )
            sizes.append(point_coords.shape[0])
        elif point_labels is not None:
            raise EfficientViTError("point_labels given without point_coords; pass both or neither")
        if boxes is not None:
            if boxes.ndim != 2 or boxes.shape[-1] != 4:
                raise EfficientViTError(
                    f"predict_torch: boxes must have shape (B, 4), got {tuple(boxes.shape)}"
                )
            sizes.append(boxes.shape[0])
        if mask_input is not None:
            if mask_input.ndim != 4 or tuple(mask_input.shape[1:]) != (1, LOW_RES, LOW_RES):
                raise EfficientViTError(
                    f"predict_torch: mask_input must have shape (B, 1, {LOW_RES}, {LOW_RES}), "
                    f"got {tuple(mask_input.shape)}"
                )
            sizes.append(mask_input.shape[0])
        if not sizes:
            raise EfficientViTError("predict_torch needs a prompt: points, boxes or mask_input")
        if len(set(sizes)) != 1 or sizes[0] == 0:
            raise EfficientViTError(
                f"predict_torch: prompts must share one non-zero batch size B, got {sizes}"
            )
        return sizes[0]

    def postprocess_masks(self, low_res: torch.Tensor) -> torch.Tensor:
        """(B, C, 256, 256) logits to (B, C, H, W) logits at the original size.

        Upsampled to the 1024 prompt frame, cropped to the part the image covers there, resized to (H, W).
        """
        self._require_image()
        assert self.original_size is not None
        return sam_task.postprocess_masks(low_res, self.original_size)
