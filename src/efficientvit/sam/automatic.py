"""Automatic mask generation: segment-anything's ``SamAutomaticMaskGenerator`` for EfficientViT-SAM.

A grid of single-point prompts (optionally over several crop layers) is run through the predictor in
batches; masks are filtered by predicted IoU and stability, deduplicated by box NMS and returned as
COCO-style annotation dicts. The mask bookkeeping reuses ``segment_anything.utils.amg``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from segment_anything.utils.amg import (
    MaskData,
    area_from_rle,
    batch_iterator,
    batched_mask_to_box,
    box_xyxy_to_xywh,
    build_all_layer_point_grids,
    calculate_stability_score,
    coco_encode_rle,
    generate_crop_boxes,
    is_box_near_crop_edge,
    mask_to_rle_pytorch,
    remove_small_regions,
    rle_to_mask,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)
from torch import nn
from torchvision.ops import batched_nms
from tqdm import tqdm

from efficientvit.errors import EfficientViTError
from efficientvit.sam.predictor import SamPredictor, image_tensor

__all__ = ["OutputMode", "SamAutomaticMaskGenerator"]

OutputMode = Literal["binary_mask", "uncompressed_rle", "coco_rle"]


class SamAutomaticMaskGenerator:
    """Masks for a whole image from a grid of point prompts (segment-anything's automatic mode)."""

    def __init__(
        self,
        model: nn.Module | SamPredictor,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: OutputMode = "binary_mask",
        *,
        backend: str | None = "auto",
        progress: bool = False,
    ) -> None:
        """The arguments of segment-anything's generator (``model``: an EfficientViT-SAM model or a
        :class:`~efficientvit.sam.SamPredictor`); ``backend`` runs the model as in
        :class:`~efficientvit.sam.SamPredictor` (ignored when a predictor is given: it has its own);
        ``progress`` shows a progress bar over the point batches of each image on stderr."""
        if (points_per_side is None) == (point_grids is None):
            raise EfficientViTError("give exactly one of points_per_side and point_grids")
        if points_per_side is not None and points_per_side < 1:
            raise EfficientViTError(f"points_per_side must be at least 1, got {points_per_side}")
        if points_per_batch < 1:
            raise EfficientViTError(f"points_per_batch must be at least 1, got {points_per_batch}")
        if output_mode not in ("binary_mask", "uncompressed_rle", "coco_rle"):
            raise EfficientViTError(
                f"output_mode must be 'binary_mask', 'uncompressed_rle' or 'coco_rle', got {output_mode!r}"
            )
        if output_mode == "coco_rle":
            _require("pycocotools", "output_mode='coco_rle'", "pycocotools")
        if min_mask_region_area > 0:
            _require("cv2", "min_mask_region_area > 0", "opencv-python-headless")
        if points_per_side is not None:
            point_grids = build_all_layer_point_grids(
                points_per_side, crop_n_layers, crop_n_points_downscale_factor
            )
        assert point_grids is not None
        if len(point_grids) != crop_n_layers + 1:
            raise EfficientViTError(
                f"point_grids needs one grid per crop layer ({crop_n_layers + 1}), got {len(point_grids)}"
            )
        self.predictor = model if isinstance(model, SamPredictor) else SamPredictor(model, backend=backend)
        self.point_grids = point_grids
        """Per crop layer, (P, 2) points in [0, 1] x [0, 1] (x, y) of the crop."""
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode
        self.progress = progress

    @torch.no_grad()
    def generate(self, image: np.ndarray | torch.Tensor) -> list[dict[str, Any]]:
        """Annotations for an (H, W, 3) uint8 RGB array (or a (3, H, W) uint8 tensor), one dict per mask.

        Keys: ``segmentation`` (bool (H, W) array, or an RLE dict for the RLE output modes), ``area`` (int),
        ``bbox`` ([x, y, w, h]), ``predicted_iou``, ``point_coords`` ([[x, y]]), ``stability_score`` and
        ``crop_box`` ([x, y, w, h]).
        """
        pixels = image_tensor(image)  # (3, H, W); one clear error for a bad image
        image = pixels.permute(1, 2, 0).cpu().numpy()  # (H, W, 3)
        data = self._generate_masks(image)
        if self.min_mask_region_area > 0:
            data = self.postprocess_small_regions(
                data, self.min_mask_region_area, max(self.box_nms_thresh, self.crop_nms_thresh)
            )
        if self.output_mode == "coco_rle":
            segmentations = [coco_encode_rle(rle) for rle in data["rles"]]
        elif self.output_mode == "uncompressed_rle":
            segmentations = data["rles"]
        else:
            segmentations = [rle_to_mask(rle) for rle in data["rles"]]
        return [
            {
                "segmentation": segmentations[i],
                "area": int(area_from_rle(data["rles"][i])),
                "bbox": [int(v) for v in box_xyxy_to_xywh(data["boxes"][i])],
                "predicted_iou": float(data["iou_preds"][i]),
                "point_coords": [data["points"][i].tolist()],
                "stability_score": float(data["stability_score"][i]),
                "crop_box": [int(v) for v in box_xyxy_to_xywh(data["crop_boxes"][i])],
            }
            for i in range(len(data["rles"]))
        ]

    def _generate_masks(self, image: np.ndarray) -> MaskData:
        orig_size = image.shape[:2]
        crop_boxes, layer_idxs = generate_crop_boxes(orig_size, self.crop_n_layers, self.crop_overlap_ratio)
        data = MaskData()
        batches = sum(-(-len(self.point_grids[layer]) // self.points_per_batch) for layer in layer_idxs)
        with tqdm(
            total=batches, unit="batch", desc="automatic masks", disable=not self.progress, leave=False
        ) as bar:
            for crop_box, layer_idx in zip(crop_boxes, layer_idxs, strict=True):
                data.cat(self._process_crop(image, crop_box, layer_idx, orig_size, bar))
        if len(crop_boxes) > 1:
            # Between crops, prefer masks from smaller crops (they see more detail).
            scores = 1 / box_area(data["crop_boxes"])
            keep = batched_nms(
                data["boxes"].float(),
                scores,
                torch.zeros_like(data["boxes"][:, 0]),
                iou_threshold=self.crop_nms_thresh,
            )
            data.filter(keep)
        data.to_numpy()
        return data

    def _process_crop(
        self, image: np.ndarray, crop_box: list[int], layer_idx: int, orig_size: tuple[int, ...], bar: tqdm
    ) -> MaskData:
        x0, y0, x1, y1 = crop_box
        self.predictor.set_image(image[y0:y1, x0:x1, :])
        crop_size = (y1 - y0, x1 - x0)
        points = self.point_grids[layer_idx] * np.array(crop_size)[None, ::-1]  # (P, 2) (x, y) crop pixels
        data = MaskData()
        for (batch,) in batch_iterator(self.points_per_batch, points):
            data.cat(self._process_batch(batch, crop_box, orig_size))
            bar.update(1)
        self.predictor.reset_image()
        keep = batched_nms(
            data["boxes"].float(),
            data["iou_preds"],
            torch.zeros_like(data["boxes"][:, 0]),
            iou_threshold=self.box_nms_thresh,
        )
        data.filter(keep)
        data["boxes"] = uncrop_boxes_xyxy(data["boxes"], crop_box)
        data["points"] = uncrop_points(data["points"], crop_box)
        data["crop_boxes"] = torch.tensor([crop_box]).repeat(len(data["rles"]), 1)  # (M, 4)
        return data

    def _process_batch(self, points: np.ndarray, crop_box: list[int], orig_size: tuple[int, ...]) -> MaskData:
        """One prompt-encoder/mask-decoder call for a batch of P single-point prompts."""
        orig_h, orig_w = orig_size
        predictor = self.predictor
        coords = torch.as_tensor(points, dtype=torch.float32, device=predictor.device)  # (P, 2)
        in_points = predictor.transform_coords(coords)[:, None, :]  # (P, 1, 2) in the prompt frame
        in_labels = torch.ones(in_points.shape[:2], dtype=torch.int64, device=in_points.device)  # (P, 1)
        if predictor.decoder_backend != "fused":  # the whole decoder as the backend runs it
            # (P, 3, 256, 256) low-resolution logits, (P, 3) predicted IoUs
            low_res, iou_preds = predictor.decode(in_points, in_labels, None, None, True)
        else:  # IoUs first, then only the prompts with a mask worth keeping are upscaled
            threshold = self.pred_iou_thresh

            def worth_upscaling(ious: torch.Tensor) -> torch.Tensor:  # (b, 4) -> (b,)
                return (ious[:, 1:] > threshold).any(dim=1)

            decoded = predictor.decode_masks(
                in_points, in_labels, outputs=slice(1, None), keep=worth_upscaling if threshold > 0 else None
            )
            iou_preds = decoded.iou_predictions[decoded.kept, 1:]  # (P', 3): the multimask outputs
            coords, low_res = coords[decoded.kept], decoded.masks  # (P', 2), (P', 3, 256, 256)
        data = MaskData(
            low_res=low_res.flatten(0, 1),  # (3P, 256, 256)
            iou_preds=iou_preds.flatten(0, 1),  # (3P,)
            points=coords.repeat_interleave(low_res.shape[1], dim=0),  # (3P, 2)
        )
        del low_res
        if self.pred_iou_thresh > 0.0:
            # Filtered before upsampling: each mask is upsampled on its own, so the kept ones are unchanged.
            data.filter(data["iou_preds"] > self.pred_iou_thresh)
        data["masks"] = predictor.postprocess_masks(data["low_res"][:, None])[:, 0]  # (M, h, w) logits
        del data["low_res"]
        data["stability_score"] = calculate_stability_score(data["masks"], 0.0, self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            data.filter(data["stability_score"] >= self.stability_score_thresh)
        data["masks"] = data["masks"] > 0.0
        data["boxes"] = batched_mask_to_box(data["masks"])
        # Drop masks cut by the crop's edge unless that edge is the image's.
        data.filter(~is_box_near_crop_edge(data["boxes"], crop_box, [0, 0, orig_w, orig_h]))
        data["masks"] = uncrop_masks(data["masks"], crop_box, orig_h, orig_w)
        data["rles"] = mask_to_rle_pytorch(data["masks"])
        del data["masks"]
        return data

    @staticmethod
    def postprocess_small_regions(data: MaskData, min_area: int, nms_thresh: float) -> MaskData:
        """Remove small islands and fill small holes, then rerun NMS (recomputed masks score 0): the static
        method of segment-anything's generator, under its name."""
        if len(data["rles"]) == 0:
            return data
        new_masks, scores = [], []
        for rle in data["rles"]:
            mask = rle_to_mask(rle)
            mask, changed = remove_small_regions(mask, min_area, mode="holes")
            unchanged = not changed
            mask, changed = remove_small_regions(mask, min_area, mode="islands")
            unchanged = unchanged and not changed
            new_masks.append(torch.as_tensor(mask)[None])
            scores.append(float(unchanged))  # prefer masks that needed no fixing
        masks = torch.cat(new_masks, dim=0)  # (M, H, W)
        boxes = batched_mask_to_box(masks)
        keep = batched_nms(
            boxes.float(), torch.as_tensor(scores), torch.zeros_like(boxes[:, 0]), iou_threshold=nms_thresh
        )
        for i in keep.tolist():
            if scores[i] == 0.0:
                data["rles"][i] = mask_to_rle_pytorch(masks[i][None])[0]
                data["boxes"][i] = boxes[i].numpy()
        data.filter(keep)
        return data


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of (M, 4) xyxy boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _require(module: str, feature: str, package: str) -> None:
    """Raise a one-line error if the optional ``module`` for ``feature`` is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise EfficientViTError(f"{feature} needs the {package!r} package: pip install {package}")
