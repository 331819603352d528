"""The many-prompt mask decoder equals segment-anything's ``MaskDecoder.predict_masks`` (same weights)."""

from __future__ import annotations

import pytest
import torch

from efficientvit.export import SamPromptDecoder
from efficientvit.sam.decoder import ManyPromptDecoder, decode_masks, decode_tokens, upscale_masks


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


def test_decode_masks_upscales_only_the_kept_prompts(sam_l0: torch.nn.Module) -> None:
    """With ``keep`` only the accepted prompts' masks come back, equal to those of all prompts, over
    several prompt groups (9 prompts: three groups of CPU_TOKEN_GROUP = 4, 4 and 1)."""
    embedding = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(2))
    sparse, dense, _ = _prompts(sam_l0, 9, "points")
    decoder, pe = sam_l0.mask_decoder, sam_l0.prompt_encoder.get_dense_pe()
    with torch.no_grad():
        everything = decode_masks(decoder, embedding, pe, sparse, dense[:1], slice(1, None))
        median = everything.iou_predictions[:, 1].median()
        chosen = decode_masks(
            decoder, embedding, pe, sparse, dense[:1], slice(1, None), keep=lambda iou: iou[:, 1] > median
        )
    assert everything.kept.all() and everything.masks.shape == (9, 3, 256, 256)
    assert 0 < int(chosen.kept.sum()) < 9
    torch.testing.assert_close(chosen.iou_predictions, everything.iou_predictions, rtol=0, atol=0)
    torch.testing.assert_close(chosen.masks, everything.masks[chosen.kept], rtol=0, atol=1e-5)


@pytest.mark.parametrize("has_mask", [False, True])
def test_many_prompt_decoder_equals_the_export_module(sam_l0: torch.nn.Module, has_mask: bool) -> None:
    """What the ``fused`` backend runs for the prompt decoder graph equals ``SamPromptDecoder``, with and
    without a mask prompt, for clicks and boxes (two corner points labelled 2 and 3)."""
    generator = torch.Generator().manual_seed(3)
    embedding = torch.randn(1, 256, 64, 64, generator=generator)
    coords = torch.rand(6, 3, 2, generator=generator) * 1024  # (B, N, 2)
    labels = torch.tensor([[1.0, 0.0, -1.0], [2.0, 3.0, -1.0], [1.0, 2.0, 3.0]]).repeat(2, 1)  # (B, N)
    masks = torch.randn(6, 1, 256, 256, generator=generator)
    has_mask_input = torch.tensor([1.0 if has_mask else 0.0])
    with torch.no_grad():
        ours = ManyPromptDecoder(sam_l0)(embedding, coords, labels, masks, has_mask_input)
        reference = SamPromptDecoder(sam_l0, multimask_output=None)(
            embedding, coords, labels, masks, has_mask_input
        )
    assert ours[0].shape == reference[0].shape == (6, 4, 256, 256)
    assert (ours[0] - reference[0]).abs().max() <= 1e-4 * reference[0].abs().max()
    torch.testing.assert_close(ours[1], reference[1], rtol=1e-4, atol=1e-5)
