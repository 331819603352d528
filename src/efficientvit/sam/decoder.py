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
* the IoU head runs before the masks are upscaled, so callers upscale only the prompts they keep.

The result equals ``predict_masks`` to float32 rounding (the tests compare within 1e-4 relative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder
from segment_anything.modeling.transformer import Attention, TwoWayTransformer

__all__ = ["DecodedTokens", "decode_tokens", "upscale_masks"]


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
    offset = offset.reshape(batch, 1, heads * tokens)
    points = image.shape[1]
    shared = (pe[0] if image.shape[0] > 1 else image[0] + pe[0]) @ absorbed.T  # (N, B hT)
    scores = shared.view(points, batch, heads * tokens).transpose(0, 1) + offset  # (B, N, hT)
    if image.shape[0] > 1:  # the per-prompt image side: add image @ absorbed^T
        scores = torch.baddbmm(scores, image, absorbed.view(batch, heads * tokens, channels).transpose(1, 2))
    weights = scores.view(batch, points, heads, tokens).softmax(dim=-1)  # (B, N, h, T)
    values = attn.v_proj(v).view(batch, tokens, heads, head_dim).transpose(1, 2)  # (B, h, T, d)
    w_o = attn.out_proj.weight.view(channels, heads, head_dim).permute(1, 2, 0)  # (h, d, C)
    projected = (values @ w_o + attn.out_proj.bias / heads).reshape(batch, heads * tokens, channels)
    weights = weights.view(batch, points, heads * tokens)  # (B, N, hT)
    return torch.baddbmm(image.expand(batch, -1, -1), weights, projected)  # (B, N, C)


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
    image: torch.Tensor
    """(B, C, 64, 64) image side after the transformer."""

    def select(self, index: torch.Tensor) -> DecodedTokens:
        """The prompts at ``index`` (a boolean mask or indices over B)."""
        return DecodedTokens(self.iou_predictions[index], self.mask_tokens[index], self.image[index])


def decode_tokens(
    decoder: MaskDecoder,
    image_embedding: torch.Tensor,
    image_pe: torch.Tensor,
    sparse: torch.Tensor,
    dense: torch.Tensor,
) -> DecodedTokens:
    """The transformer and IoU head of ``decoder.predict_masks`` for B prompts on one image.

    ``image_embedding`` and ``image_pe`` are (1, C, 64, 64); ``sparse`` the prompt encoder's (B, n, C);
    ``dense`` (1, C, 64, 64) when every prompt has the same dense embedding (no mask prompt), else
    (B, C, 64, 64).
    """
    batch = sparse.shape[0]
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight])  # (1 + 4, C)
    tokens = torch.cat([output_tokens[None].expand(batch, -1, -1), sparse], dim=1)  # (B, 5 + n, C)
    channels, height, width = image_embedding.shape[1:]
    image = (image_embedding + dense).flatten(2).transpose(1, 2)  # (1 or B, HW, C)
    pe = image_pe.flatten(2).transpose(1, 2)  # (1, HW, C)
    hidden, keys = _transformer(decoder.transformer, image, pe, tokens)  # (B, T, C), (B, HW, C)
    count = decoder.num_mask_tokens
    return DecodedTokens(
        iou_predictions=decoder.iou_prediction_head(hidden[:, 0]),  # (B, 4)
        mask_tokens=hidden[:, 1 : 1 + count],  # (B, 4, C)
        image=keys.transpose(1, 2).reshape(batch, channels, height, width),  # (B, C, 64, 64)
    )


def _output_upscaling(decoder: MaskDecoder, image: torch.Tensor) -> torch.Tensor:
    """``decoder.output_upscaling(image)`` with its LayerNorm2d as one ``layer_norm`` over channels-last
    values instead of five passes of elementwise operations."""
    first, norm, first_act, second, second_act = decoder.output_upscaling
    x = first(image)  # (B, C', 2H, 2W)
    x = F.layer_norm(
        x.permute(0, 2, 3, 1), (x.shape[1],), norm.weight, norm.bias, norm.eps
    )  # (B, 2H, 2W, C')
    return second_act(second(first_act(x.permute(0, 3, 1, 2))))  # (B, c, 4H, 4W)


def upscale_masks(decoder: MaskDecoder, decoded: DecodedTokens, outputs: slice = slice(None)) -> torch.Tensor:
    """(B, K, 256, 256) low-resolution mask logits of ``decoded`` for the mask outputs in ``outputs``
    (``slice(1, None)``: the three multimask outputs)."""
    upscaled = _output_upscaling(decoder, decoded.image)  # (B, c, 256, 256)
    batch, channels, height, width = upscaled.shape
    mlps = list(decoder.output_hypernetworks_mlps)[outputs]
    indices = range(decoder.num_mask_tokens)[outputs]
    hyper = torch.stack([mlp(decoded.mask_tokens[:, i]) for mlp, i in zip(mlps, indices, strict=True)], dim=1)
    return (hyper @ upscaled.view(batch, channels, height * width)).view(batch, len(mlps), height, width)
