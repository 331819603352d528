"""segment-anything's mask decoder computed for many prompts on one image, with its own weights.

``MaskDecoder.predict_masks`` copies the image embedding once per prompt and projects all 4096 image tokens
to keys, values and queries in each of its five token/image attentions, per prompt. Here, with the same
modules and weights (so every checkpoint of segment-anything's ``MaskDecoder`` works):

* without a mask prompt the image embedding plus the no-mask embedding is one (1, 4096, 256) tensor shared
  by every prompt, never copied, and so is the first layer's image side (its keys, values and queries);
* each attention is computed with its projections absorbed into the few prompt tokens: for a head ``h``,
  ``(q W_q,h^T)(x W_k,h^T)^T = (q W_q,h^T W_k,h) x^T`` and ``softmax(.) (x W_v,h^T) = (softmax(.) x) W_v,h^T``
  (the rows of a softmax sum to one, so the value bias passes through, and the key bias adds a constant to a
  softmax row, which cancels). A (4096 x 256) @ (256 x 128) projection per prompt becomes products with a
  few dozen rows, less than half the multiply-adds;
* the IoU head runs before the masks are upscaled, so callers upscale only the prompts they keep;
* the upscaling (two 2x2 stride-2 transposed convolutions, LayerNorm, GELU, then the hypernetwork product)
  runs on pixel-major rows as two matrix products, and the sub-pixel order is undone only on the few
  final mask channels;
* prompts run in small groups on a CPU, so that the per-prompt image side stays in the cache
  (:data:`CPU_TOKEN_GROUP`, :data:`CPU_UPSCALE_GROUP`); on other devices all at once.

The result equals ``predict_masks`` to float32 rounding (the tests compare within 1e-4 relative).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder
from segment_anything.modeling.transformer import Attention, TwoWayTransformer

from efficientvit.export.onnx import SamPromptDecoder
from efficientvit.models.sam import EfficientViTSam

__all__ = [
    "CPU_TOKEN_GROUP",
    "CPU_UPSCALE_GROUP",
    "DecodedMasks",
    "DecodedTokens",
    "ManyPromptDecoder",
    "decode_masks",
    "decode_tokens",
    "upscale_masks",
]

CPU_TOKEN_GROUP = 4
"""Prompts per transformer pass on a CPU. Measured on the 2-core AMD EPYC (32 MB L3), SAM-L0, 64 boxes,
2 threads: 3.26 / 3.15 / 2.59 / 2.68 / 2.92 / 3.44 / 4.15 s in groups of 1 / 2 / 4 / 8 / 16 / 32 / 64."""
CPU_UPSCALE_GROUP = 1
"""Prompts per upscaling pass on a CPU (each has an 8 MB intermediate). Same run: 1.24 / 1.27 / 1.76 /
1.93 / 2.12 s for 64 prompts in groups of 1 / 2 / 4 / 8 / 64."""


def _groups(batch: int, device: torch.device, cpu_group: int) -> list[slice]:
    """Consecutive slices over ``batch`` prompts: ``cpu_group`` at a time on a CPU, else one slice (also for
    no prompts at all)."""
    size = cpu_group if device.type == "cpu" else batch
    if batch == 0 or size >= batch:
        return [slice(0, batch)]
    return [slice(start, start + size) for start in range(0, batch, size)]


def _token_to_image(attn: Attention, q: torch.Tensor, image: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    """``attn(q=q, k=image + pe, v=image)`` for B queries of T tokens, (B, T, C), on the image side
    (1 or B, N, C) and its positional encoding (1, N, C). For a per-prompt image side ``image + pe`` is never
    formed: the scores are ``absorbed @ image^T`` added to ``absorbed @ pe^T``, a product with the shared
    encoding."""
    batch, tokens, channels = q.shape
    heads = attn.num_heads
    head_dim = attn.internal_dim // heads
    queries = attn.q_proj(q).view(batch, tokens, heads, head_dim).transpose(1, 2)  # (B, h, T, d)
    w_k = attn.k_proj.weight.view(heads, head_dim, channels)  # (h, d, C)
    absorbed = (queries @ w_k) / math.sqrt(head_dim)  # (B, h, T, C)
    rows = absorbed.reshape(batch * heads * tokens, channels)  # (B hT, C)
    points = image.shape[1]
    if image.shape[0] == 1:  # one image side for every prompt: one matrix product
        keys = image[0] + pe[0]  # (N, C), once for every prompt
        weights = (rows @ keys.T).view(batch, heads * tokens, points).softmax(dim=-1)  # (B, hT, N)
        pooled = weights.view(-1, points) @ image[0]  # (B hT, C)
    else:
        shared = (rows @ pe[0].T).view(batch, heads * tokens, points)  # (B, hT, N)
        absorbed = absorbed.reshape(batch, heads * tokens, channels)  # (B, hT, C)
        scores = torch.baddbmm(shared, absorbed, image.transpose(1, 2))  # (B, hT, N)
        pooled = scores.softmax(dim=-1) @ image  # (B, hT, C)
    pooled = pooled.view(batch, heads, tokens, channels)
    w_v = attn.v_proj.weight.view(heads, head_dim, channels)  # (h, d, C)
    out = pooled @ w_v.transpose(1, 2) + attn.v_proj.bias.view(heads, 1, head_dim)  # (B, h, T, d)
    return attn.out_proj(out.transpose(1, 2).reshape(batch, tokens, heads * head_dim))  # (B, T, C)


def _image_to_token_residual(
    attn: Attention, image: torch.Tensor, pe: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """``image + attn(q=image + pe, k=k, v=v)``: image queries (1 or B, N, C) with their encoding (1, N, C)
    on B prompts' tokens (B, T, C); returns (B, N, C). The output projection is absorbed into the tokens'
    values and its bias spread over the softmax weights (each head's sum to one): no extra pass over the
    image side."""
    batch, tokens, channels = k.shape
    heads = attn.num_heads
    head_dim = attn.internal_dim // heads
    scale = math.sqrt(head_dim)
    keys = attn.k_proj(k).view(batch, tokens, heads, head_dim).transpose(1, 2)  # (B, h, T, d)
    w_q = attn.q_proj.weight.view(heads, head_dim, channels)  # (h, d, C)
    absorbed = ((keys @ w_q) / scale).reshape(batch * heads * tokens, channels)  # (B hT, C)
    offset = (keys @ attn.q_proj.bias.view(heads, head_dim, 1)) / scale  # (B, h, T, 1): the query bias
    offset = offset.reshape(batch, heads * tokens, 1)
    side = pe[0] if image.shape[0] > 1 else image[0] + pe[0]  # (N, C)
    scores = (absorbed @ side.T).view(batch, heads * tokens, -1) + offset  # (B, hT, N)
    if image.shape[0] > 1:  # the per-prompt image side: add absorbed @ image^T
        scores = torch.baddbmm(scores, absorbed.view(batch, heads * tokens, channels), image.transpose(1, 2))
    # Softmax over each head's T tokens with the N pixels innermost: vectorised over pixels (over the last
    # dimension of size T it is several times slower).
    weights = scores.view(batch, heads, tokens, -1).softmax(dim=2)  # (B, h, T, N)
    values = attn.v_proj(v).view(batch, tokens, heads, head_dim).transpose(1, 2)  # (B, h, T, d)
    w_o = attn.out_proj.weight.view(channels, heads, head_dim).permute(1, 2, 0)  # (h, d, C)
    projected = (values @ w_o + attn.out_proj.bias / heads).reshape(batch, heads * tokens, channels)
    weights = weights.view(batch, heads * tokens, -1).transpose(1, 2)  # (B, N, hT)
    # (B, N, C); bmm then an in-place add: baddbmm would first copy the (expanded) image side, 3x slower
    return torch.bmm(weights, projected).add_(image)


def _transformer(
    transformer: TwoWayTransformer, image: torch.Tensor, pe: torch.Tensor, tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``TwoWayTransformer.forward`` on flattened image tokens (1 or B, N, C), their encoding (1, N, C)
    and the prompt tokens (B, T, C)."""
    queries, keys = tokens, image
    for layer in transformer.layers:
        if layer.skip_first_layer_pe:
            queries = layer.self_attn(q=queries, k=queries, v=queries)
        else:
            q = queries + tokens
            queries = queries + layer.self_attn(q=q, k=q, v=queries)
        queries = layer.norm1(queries)
        queries = layer.norm2(
            queries + _token_to_image(layer.cross_attn_token_to_image, queries + tokens, keys, pe)
        )
        queries = layer.norm3(queries + layer.mlp(queries))
        attn = layer.cross_attn_image_to_token
        keys = layer.norm4(_image_to_token_residual(attn, keys, pe, queries + tokens, queries))
    attended = _token_to_image(transformer.final_attn_token_to_image, queries + tokens, keys, pe)
    return transformer.norm_final_attn(queries + attended), keys


@dataclass
class DecodedTokens:
    """The transformer's outputs for B prompts, before any mask is upscaled."""

    iou_predictions: torch.Tensor
    """(B, 4): the single-mask output first, then the three multimask outputs."""
    mask_tokens: torch.Tensor
    """(B, 4, C) output tokens of the masks."""
    image_tokens: torch.Tensor
    """(B, HW, C) image side after the transformer, pixel-major (row by row over the 64x64 grid)."""

    def select(self, index: torch.Tensor) -> DecodedTokens:
        """The prompts at ``index`` (a boolean mask or indices over B)."""
        return DecodedTokens(self.iou_predictions[index], self.mask_tokens[index], self.image_tokens[index])

    @staticmethod
    def cat(parts: list[DecodedTokens]) -> DecodedTokens:
        """The prompts of ``parts``, in order."""
        return DecodedTokens(
            torch.cat([part.iou_predictions for part in parts]),
            torch.cat([part.mask_tokens for part in parts]),
            torch.cat([part.image_tokens for part in parts]),
        )


def decode_tokens(
    decoder: MaskDecoder,
    image_embedding: torch.Tensor,
    image_pe: torch.Tensor,
    sparse: torch.Tensor,
    dense: torch.Tensor,
) -> DecodedTokens:
    """The transformer and IoU head of ``decoder.predict_masks`` for B prompts on one image.

    ``image_embedding`` and ``image_pe`` are (1, C, 64, 64); ``sparse`` the prompt encoder's (B, n, C);
    ``dense`` (1, C, 1 or 64, 1 or 64) when every prompt has the same dense embedding (no mask prompt),
    else (B, C, 64, 64).
    """
    return DecodedTokens.cat(list(_decoded_groups(decoder, image_embedding, image_pe, sparse, dense)))


@dataclass
class DecodedMasks:
    """What :func:`decode_masks` returns."""

    iou_predictions: torch.Tensor
    """(B, 4) of every prompt: the single-mask output first, then the three multimask outputs."""
    kept: torch.Tensor
    """(B,) bool: the prompts whose masks were upscaled."""
    masks: torch.Tensor
    """(B', K, 256, 256) low-resolution logits of the kept prompts, for the outputs asked for."""


def decode_masks(
    decoder: MaskDecoder,
    image_embedding: torch.Tensor,
    image_pe: torch.Tensor,
    sparse: torch.Tensor,
    dense: torch.Tensor,
    outputs: slice = slice(None),
    keep: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> DecodedMasks:
    """``decoder.predict_masks`` for B prompts (the arguments of :func:`decode_tokens`), group by group:
    the masks of the outputs in ``outputs`` are upscaled only for the prompts where ``keep`` (given a
    group's (b, 4) IoU predictions, returning a (b,) bool mask) is true, all of them without ``keep``."""
    ious, kept, masks = [], [], []
    for decoded in _decoded_groups(decoder, image_embedding, image_pe, sparse, dense):
        chosen = torch.ones_like(decoded.iou_predictions[:, 0], dtype=torch.bool)
        if keep is not None:
            chosen = keep(decoded.iou_predictions)
        ious.append(decoded.iou_predictions)
        kept.append(chosen)
        masks.append(upscale_masks(decoder, decoded if keep is None else decoded.select(chosen), outputs))
    return DecodedMasks(torch.cat(ious), torch.cat(kept), torch.cat(masks))


def _decoded_groups(
    decoder: MaskDecoder,
    image_embedding: torch.Tensor,
    image_pe: torch.Tensor,
    sparse: torch.Tensor,
    dense: torch.Tensor,
) -> Iterator[DecodedTokens]:
    """:func:`decode_tokens` for one group of prompts after another (see :data:`CPU_TOKEN_GROUP`)."""
    pe = image_pe.flatten(2).transpose(1, 2)  # (1, HW, C)
    shared = dense.shape[0] == 1
    image = (image_embedding + dense).flatten(2).transpose(1, 2) if shared else None  # (1, HW, C)
    for group in _groups(sparse.shape[0], sparse.device, CPU_TOKEN_GROUP):
        side = image if image is not None else (image_embedding + dense[group]).flatten(2).transpose(1, 2)
        yield _decode_group(decoder, side, pe, sparse[group])  # side: (1 or b, HW, C)


def _decode_group(
    decoder: MaskDecoder, image: torch.Tensor, pe: torch.Tensor, sparse: torch.Tensor
) -> DecodedTokens:
    """:func:`decode_tokens` for one group of b prompts on the image side (1 or b, HW, C)."""
    batch = sparse.shape[0]
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight])  # (1 + 4, C)
    tokens = torch.cat([output_tokens[None].expand(batch, -1, -1), sparse], dim=1)  # (b, 5 + n, C)
    hidden, keys = _transformer(decoder.transformer, image, pe, tokens)  # (b, T, C), (b, HW, C)
    count = decoder.num_mask_tokens
    return DecodedTokens(
        iou_predictions=decoder.iou_prediction_head(hidden[:, 0]),  # (b, 4)
        mask_tokens=hidden[:, 1 : 1 + count],  # (b, 4, C)
        image_tokens=keys,
    )


def _transposed_conv_matrix(conv: torch.nn.ConvTranspose2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A 2x2 stride-2 transposed convolution as a (C_in, 4 C_out) matrix and its (4 C_out,) bias: each
    input pixel's row times the matrix gives its four output pixels, columns ordered (dy, dx, channel)."""
    c_in, c_out = conv.weight.shape[:2]
    matrix = conv.weight.permute(0, 2, 3, 1).reshape(c_in, 4 * c_out)  # (C_in, (dy dx C_out))
    return matrix, conv.bias.repeat(4)


def _upscale_group(
    decoder: MaskDecoder, image_tokens: torch.Tensor, mask_tokens: torch.Tensor, outputs: slice
) -> torch.Tensor:
    """:func:`upscale_masks` for one group of b prompts: image tokens (b, HW, C), mask tokens (b, 4, C)."""
    first, norm, first_act, second, second_act = decoder.output_upscaling
    batch, pixels, channels = image_tokens.shape
    side = math.isqrt(pixels)
    w1, b1 = _transposed_conv_matrix(first)
    w2, b2 = _transposed_conv_matrix(second)
    mid, low = first.out_channels, second.out_channels
    x = torch.addmm(b1, image_tokens.reshape(batch * pixels, channels), w1)  # (b HW, (dy dx C'))
    x = F.layer_norm(x.view(-1, mid), (mid,), norm.weight, norm.bias, norm.eps)  # (b HW 4, C'): per pixel
    x = second_act(torch.addmm(b2, first_act(x), w2))  # (b HW 4, (dy' dx' c))
    mlps = list(decoder.output_hypernetworks_mlps)[outputs]
    indices = range(decoder.num_mask_tokens)[outputs]
    hyper = torch.stack([mlp(mask_tokens[:, i]) for mlp, i in zip(mlps, indices, strict=True)], dim=1)
    masks = x.view(batch, pixels * 16, low) @ hyper.transpose(1, 2)  # (b, HW 16, K)
    # Rows are ordered (y, x, dy, dx, dy', dx'): the mask pixel (4y + 2dy + dy', 4x + 2dx + dx').
    masks = masks.view(batch, side, side, 2, 2, 2, 2, len(mlps))
    return masks.permute(0, 7, 1, 3, 5, 2, 4, 6).reshape(batch, len(mlps), 4 * side, 4 * side)


def upscale_masks(decoder: MaskDecoder, decoded: DecodedTokens, outputs: slice = slice(None)) -> torch.Tensor:
    """(B, K, 256, 256) low-resolution mask logits of ``decoded`` for the mask outputs in ``outputs``
    (``slice(1, None)``: the three multimask outputs)."""
    image, tokens = decoded.image_tokens, decoded.mask_tokens
    groups = _groups(image.shape[0], image.device, CPU_UPSCALE_GROUP)
    return torch.cat([_upscale_group(decoder, image[g], tokens[g], outputs) for g in groups])


class ManyPromptDecoder(SamPromptDecoder):
    """:class:`~efficientvit.export.SamPromptDecoder`'s inputs and outputs (all four masks), computed by
    :func:`decode_tokens` and :func:`upscale_masks`: what the ``fused`` backend runs for SAM's prompt
    decoder graph. Without a mask prompt (``has_mask_input`` 0) every prompt shares one image side."""

    def __init__(self, model: EfficientViTSam) -> None:
        super().__init__(model, multimask_output=None)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sparse = self._embed_points(point_coords, point_labels)  # (B, N, C)
        if bool(has_mask_input.any()):
            dense = self._embed_mask(mask_input, has_mask_input)  # (B, C, 64, 64)
        else:
            dense = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)  # (1, C, 1, 1): shared
        decoded = decode_masks(
            self.mask_decoder, image_embeddings, self.prompt_encoder.get_dense_pe(), sparse, dense
        )
        return decoded.masks, decoded.iou_predictions  # (B, 4, 256, 256), (B, 4)
