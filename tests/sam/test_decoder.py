"""The many-prompt mask decoder equals segment-anything's ``MaskDecoder.predict_masks`` (same weights)."""

from __future__ import annotations

import pytest
import torch

from efficientvit.sam.decoder import decode_tokens, upscale_masks


def _prompts(model: torch.nn.Module, batch: int, kind: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(sparse, dense, shared): the prompt encoder's embeddings of ``batch`` random prompts."""
    generator = torch.Generator().manual_seed(batch)
    encoder = model.prompt_encoder
    points = boxes = masks = None
    if kind in ("points", "points+mask"):
        coords = torch.rand(batch, 3, 2, generator=generator) * 1024
        labels = torch.randint(0, 2, (batch, 3), generator=generator)
        points = (coords, labels)
    if kind == "boxes":
        corners = torch.rand(batch, 2, 2, generator=generator) * 1024
        boxes = torch.cat([corners.min(dim=1).values, corners.max(dim=1).values], dim=1)  # (B, 4)
    if kind == "points+mask":
        masks = torch.randn(batch, 1, 256, 256, generator=generator)
    sparse, dense = encoder(points=points, boxes=boxes, masks=masks)
    return sparse, dense, masks is None


@pytest.mark.parametrize("kind", ["points", "boxes", "points+mask"])
@pytest.mark.parametrize("batch", [1, 5])
def test_equals_predict_masks(sam_l0: torch.nn.Module, kind: str, batch: int) -> None:
    torch.manual_seed(0)
    embedding = torch.randn(1, 256, 64, 64)
    sparse, dense, shared = _prompts(sam_l0, batch, kind)
    decoder, pe = sam_l0.mask_decoder, sam_l0.prompt_encoder.get_dense_pe()
    with torch.no_grad():
        expected_masks, expected_iou = decoder.predict_masks(embedding, pe, sparse, dense)  # (B, 4, 256, 256)
        # Without a mask prompt the dense embedding is the same for every prompt: pass it once.
        decoded = decode_tokens(decoder, embedding, pe, sparse, dense[:1] if shared else dense)
        masks = upscale_masks(decoder, decoded)
        multimask = upscale_masks(decoder, decoded, slice(1, None))
    assert masks.shape == expected_masks.shape == (batch, 4, 256, 256)
    assert (masks - expected_masks).abs().max() <= 1e-4 * expected_masks.abs().max()
    torch.testing.assert_close(decoded.iou_predictions, expected_iou, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(multimask, masks[:, 1:], rtol=0, atol=1e-5)


def test_select_keeps_the_chosen_prompts(sam_l0: torch.nn.Module) -> None:
    embedding = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(1))
    sparse, dense, _ = _prompts(sam_l0, 4, "points")
    decoder, pe = sam_l0.mask_decoder, sam_l0.prompt_encoder.get_dense_pe()
    with torch.no_grad():
        decoded = decode_tokens(decoder, embedding, pe, sparse, dense[:1])
        kept = torch.tensor([True, False, False, True])
        chosen = upscale_masks(decoder, decoded.select(kept))
        everything = upscale_masks(decoder, decoded)
    torch.testing.assert_close(chosen, everything[kept], rtol=0, atol=1e-5)
    assert upscale_masks(decoder, decoded.select(torch.zeros(4, dtype=torch.bool))).shape == (0, 4, 256, 256)
