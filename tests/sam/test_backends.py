"""The SAM predictor and automatic masks on the fastest backends (on a CPU the encoder in ONNX Runtime, the
prompt decoder fused: the many-prompt decoder): the same masks, scores and logits as segment-anything's
modules run eagerly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from efficientvit.runtime import runner_for
from efficientvit.sam import SamAutomaticMaskGenerator, SamPredictor

PROMPTS = {
    "one point": {"point_coords": np.array([[200.0, 150.0]]), "point_labels": np.array([1])},
    "two points": {
        "point_coords": np.array([[200.0, 150.0], [40.0, 30.0]]),
        "point_labels": np.array([1, 0]),
    },
    "box": {"box": np.array([60.0, 40.0, 300.0, 220.0])},
    "box and point": {
        "box": np.array([60.0, 40.0, 300.0, 220.0]),
        "point_coords": np.array([[200.0, 150.0]]),
        "point_labels": np.array([1]),
    },
}


def close(ours: np.ndarray, reference: np.ndarray) -> bool:
    scale = float(np.abs(reference).max())
    return bool(np.abs(ours - reference).max() <= 1e-4 * scale + 1e-5)


@pytest.mark.usefixtures("users_auto")
def test_predictor_on_auto_matches_eager(sam_l0: torch.nn.Module, sample_photo: Callable) -> None:
    image = sample_photo("astronaut", 240, 320)
    fast, eager = SamPredictor(sam_l0), SamPredictor(sam_l0, backend="eager")
    fast.set_image(image)
    eager.set_image(image)
    assert runner_for(sam_l0, "sam_image_encoder").backend == "onnxruntime"
    assert close(fast.get_image_embedding().numpy(), eager.get_image_embedding().numpy())
    for name, prompt in PROMPTS.items():
        for multimask in (True, False):
            masks, scores, low_res = fast.predict(**prompt, multimask_output=multimask)
            ref_masks, ref_scores, ref_low_res = eager.predict(**prompt, multimask_output=multimask)
            assert masks.shape == ref_masks.shape and scores.shape == ref_scores.shape, name
            assert close(low_res, ref_low_res) and close(scores, ref_scores), name
            assert (masks == ref_masks).mean() >= 0.9995, name
            if multimask:  # with the previous logits as a mask prompt
                again = fast.predict(**prompt, mask_input=low_res[:1], multimask_output=False)
                reference = eager.predict(**prompt, mask_input=ref_low_res[:1], multimask_output=False)
                assert close(again[2], reference[2]), name
    assert runner_for(sam_l0, "sam_prompt_decoder").backend == "fused"
    assert fast.decoder_backend == "fused" and eager.decoder_backend == "eager"


@pytest.mark.usefixtures("users_auto")
def test_automatic_masks_on_auto_match_eager(sam_l0: torch.nn.Module, sample_photo: Callable) -> None:
    image = sample_photo("coffee", 160, 240)
    options = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    ours = SamAutomaticMaskGenerator(sam_l0, **options).generate(image)
    reference = SamAutomaticMaskGenerator(sam_l0, backend="eager", **options).generate(image)
    assert len(ours) == len(reference) > 0
    for a, b in zip(ours, reference, strict=True):
        assert a["point_coords"] == b["point_coords"]
        assert abs(a["predicted_iou"] - b["predicted_iou"]) < 1e-4
        assert (a["segmentation"] == b["segmentation"]).mean() >= 0.999
