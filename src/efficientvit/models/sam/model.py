"""EfficientViT-SAM: the EfficientViT image encoder with segment-anything's prompt encoder and mask decoder.

The prompt encoder and mask decoder are the ``segment_anything`` package's modules, so their call
signatures and checkpoint keys are exactly segment-anything's; only their norm epsilon differs (1e-6, as
in the official EfficientViT-SAM models).
"""

from __future__ import annotations

import torch
from torch import nn

from efficientvit.models.backbone import LargeBackboneConfig
from efficientvit.models.sam.image_encoder import EfficientViTSamImageEncoder, SamNeckConfig
from efficientvit.pretrained import PretrainedMixin

PROMPT_FRAME = 1024
"""Prompt coordinates live in a 1024x1024 frame for every model (L models encode 512x512 images)."""
EMBED_DIM = 256
EMBEDDING_SIZE = 64


class EfficientViTSam(nn.Module, PretrainedMixin):
    """EfficientViT-SAM: ``image_encoder``, ``prompt_encoder`` and ``mask_decoder`` as in segment-anything."""

    def __init__(self, image_encoder: EfficientViTSamImageEncoder, norm_eps: float) -> None:
        from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer  # slow: on use

        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = PromptEncoder(
            embed_dim=EMBED_DIM,
            image_embedding_size=(EMBEDDING_SIZE, EMBEDDING_SIZE),
            input_image_size=(PROMPT_FRAME, PROMPT_FRAME),
            mask_in_chans=16,
        )
        self.mask_decoder = MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=EMBED_DIM, mlp_dim=2048, num_heads=8),
            transformer_dim=EMBED_DIM,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        )
        for module in (self.prompt_encoder, self.mask_decoder):
            for layer in module.modules():
                if hasattr(layer, "eps") and isinstance(layer.eps, float):  # LayerNorm, LayerNorm2d
                    layer.eps = norm_eps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Image embeddings of normalised (B, 3, H, W) images; prompts go through the two other modules."""
        return self.image_encoder(images)


def build_sam(backbone: LargeBackboneConfig, neck: SamNeckConfig) -> EfficientViTSam:
    """EfficientViT-SAM from its backbone and neck configs; every norm uses the backbone's epsilon."""
    return EfficientViTSam(EfficientViTSamImageEncoder(backbone, neck), norm_eps=backbone.norm_eps)
