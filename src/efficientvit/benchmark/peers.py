"""The models we compare against, randomly initialised (speed does not depend on the weights).

* SegFormer-B1 / B2 (Xie et al., NeurIPS 2021), the Cityscapes models of the EfficientViT paper's Table,
  as ``transformers.SegformerForSemanticSegmentation``. The sizes are those of the ``nvidia/mit-b1`` /
  ``nvidia/mit-b2`` configs (checked against the published ``config.json`` of mit-b2 and mit-b0 and the
  mmsegmentation / sssegmentation MiT-B1 configs): hidden sizes (64, 128, 320, 512), heads (1, 2, 5, 8),
  reduction ratios (8, 4, 2, 1); depths (2, 2, 2, 2) and a 256-wide decoder for B1, (3, 4, 6, 3) and
  768 for B2; 19 classes.
* SAM ViT-B / ViT-H (Kirillov et al., 2023): ``segment_anything.sam_model_registry[kind]()`` without a
  checkpoint; their image encoders take 1024x1024 images.
* A softmax-attention block with LiteMLA's dimensions (1x1 qkv, ``channels / head_dim`` heads of
  ``head_dim``, ``scaled_dot_product_attention``, 1x1 projection + BatchNorm), to time against a LiteMLA
  block over growing token counts.

* timm's EfficientViT-B1 (``timm.create_model("efficientvit_b1.r224_in1k", pretrained=False)``), the same
  network as our ``efficientvit-b1-r224`` written by another hand, at 224x224.
* The official EfficientViT-SAM code, PyPI package ``efficientsam``: its ``EfficientViTSam`` takes our
  state dict unchanged (the keys are the same), so both run the same weights; its
  ``EfficientViTSamPredictor`` is segment-anything's predictor API.
* The official repository's ``assets/onnx_export.py``, as a stand-in: our unfused eager model exported by
  plain ``torch.onnx.export(model, (x,), path, opset_version=17)`` (torch's default exporter and its
  default graph optimisation, no changes of ours), run in ONNX Runtime.

:class:`SamPromptPath` times a whole prompt: image encoder, prompt encoder and mask decoder for one box,
for EfficientViT-SAM and segment-anything alike (their prompt encoder and mask decoder are the same
modules). The masks stay at the decoder's 256x256: resizing them to the image is not part of the model.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.extras import missing_extra, require
from efficientvit.layers import ConvNormAct, LiteMLA

SEGFORMER_SIZES: dict[str, dict[str, object]] = {
    "segformer-b1": {"depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b2": {"depths": [3, 4, 6, 3], "decoder_hidden_size": 768},
}
"""What differs between the SegFormer sizes we time (the rest is shared: see the module docstring)."""
SAM_VIT_KINDS: dict[str, str] = {"sam-vit-b": "vit_b", "sam-vit-h": "vit_h"}
SAM_VIT_RESOLUTION = (1024, 1024)
CITYSCAPES_CLASSES = 19


class SegformerLogits(nn.Module):
    """A ``transformers`` SegFormer that takes images and returns the (B, classes, H / 4, W / 4) logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=images).logits


def build_segformer(name: str, num_classes: int = CITYSCAPES_CLASSES) -> SegformerLogits:
    """SegFormer ``name`` (a key of :data:`SEGFORMER_SIZES`), randomly initialised, in eval mode."""
    try:
        from transformers import SegformerConfig, SegformerForSemanticSegmentation
    except ImportError:
        raise missing_package_error("segformer") from None

    config = SegformerConfig(
        hidden_sizes=[64, 128, 320, 512],
        num_attention_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1],
        num_labels=num_classes,
        **SEGFORMER_SIZES[name],
    )
    return SegformerLogits(SegformerForSemanticSegmentation(config)).eval()


def build_sam_vit(name: str) -> nn.Module:
    """segment-anything's SAM ``name`` (a key of :data:`SAM_VIT_KINDS`), randomly initialised, eval mode."""
    from segment_anything import sam_model_registry

    return sam_model_registry[SAM_VIT_KINDS[name]]().eval()


class SamImageEncoder(nn.Module):
    """Just the image encoder of a segment-anything ``Sam`` (its own ``forward`` wants prompt dicts)."""

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.image_encoder = sam.image_encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(images)  # (B, 256, 64, 64)


class SamPromptPath(nn.Module):
    """Image to low-resolution mask logits for one box per image: image encoder, prompt encoder and mask
    decoder (single-mask output) of an ``EfficientViTSam`` or a segment-anything ``Sam``."""

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.image_encoder = sam.image_encoder
        self.prompt_encoder = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder

    def forward(self, images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """``boxes`` (B, 4): x0, y0, x1, y1 in the prompt encoder's 1024x1024 frame; returns (B, 1, 256, 256)
        mask logits."""
        embeddings = self.image_encoder(images)  # (B, 256, 64, 64)
        sparse, dense = self.prompt_encoder(points=None, boxes=boxes, masks=None)
        masks, _ = self.mask_decoder(
            image_embeddings=embeddings,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        return masks


def example_box(batch: int = 1) -> torch.Tensor:
    """A box in the middle of the 1024x1024 prompt frame, (batch, 4)."""
    return torch.tensor([[256.0, 256.0, 768.0, 768.0]]).expand(batch, 4).contiguous()


class SoftmaxAttention(nn.Module):
    """Multi-head softmax self-attention over the tokens of a (B, C, H, W) map, with LiteMLA's projections
    (1x1 qkv without norm, 1x1 output projection with BatchNorm): the quadratic baseline of the paper."""

    def __init__(self, channels: int, *, head_dim: int) -> None:
        super().__init__()
        self.heads = channels // head_dim
        self.head_dim = head_dim
        total_dim = self.heads * head_dim
        self.qkv = ConvNormAct(channels, 3 * total_dim, 1, norm=None, act=None)
        self.proj = ConvNormAct(total_dim, channels, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        tokens = height * width
        # Token-major copy, so that each head's features are contiguous: the fused (flash) CPU kernel needs a
        # unit stride on head_dim; strided inputs fall back to the math path, ~7x slower at 4096 tokens.
        qkv = self.qkv(x).flatten(2).transpose(1, 2).contiguous()  # (B, N, 3 * heads * head_dim)
        qkv = qkv.reshape(batch, tokens, 3, self.heads, self.head_dim)  # (B, N, 3, heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(dim=0)  # each (B, heads, N, head_dim)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, head_dim)
        out = out.transpose(1, 2).reshape(batch, tokens, -1)  # (B, N, heads * head_dim)
        out = out.transpose(1, 2).reshape(batch, -1, height, width)  # (B, heads * head_dim, H, W)
        return self.proj(out)


@dataclass(frozen=True)
class AttentionPair:
    """A softmax-attention block and a LiteMLA block of the same width and head size."""

    channels: int
    head_dim: int

    def softmax(self) -> nn.Module:
        return SoftmaxAttention(self.channels, head_dim=self.head_dim).eval()

    def lite_mla(self) -> nn.Module:
        return LiteMLA(self.channels, self.channels, head_dim=self.head_dim).eval()

    def builders(self) -> dict[str, Callable[[], nn.Module]]:
        """Row name -> builder."""
        suffix = f"c{self.channels}-d{self.head_dim}"
        return {f"softmax-attention-{suffix}": self.softmax, f"litemla-{suffix}": self.lite_mla}


DEFAULT_ATTENTION = AttentionPair(channels=128, head_dim=16)
"""Stage 3 of EfficientViT-B1 (128 channels, heads of 16): 8192 tokens at 1024x2048."""
ATTENTION_MAPS: tuple[tuple[int, int], ...] = ((8, 8), (16, 16), (32, 32), (64, 64), (64, 128), (128, 128))
"""Token maps of the sweep, 64 to 16384 tokens (64x128 is B1's stage 3 at 1024x2048)."""
QUICK_ATTENTION_MAPS: tuple[tuple[int, int], ...] = ((8, 8), (16, 16), (32, 32))


# --- timm, the official EfficientViT-SAM code (efficientsam), the official ONNX export ---

TIMM_B1 = "efficientvit_b1.r224_in1k"
"""timm's name of EfficientViT-B1 at 224x224 (ImageNet-1k)."""
TIMM_B1_OURS = "efficientvit-b1-r224"
"""Our registry name of the same network."""
TIMM_B1_RESOLUTION = (224, 224)
OFFICIAL_SAM = "efficientvit-sam-l0"
"""The EfficientViT-SAM variant timed against the official code (the same name in both registries)."""
OFFICIAL_ONNX_OPSET = 17
"""The opset the official ``assets/onnx_export.py`` asks for by default."""

PEER_PACKAGES: dict[str, tuple[str, str]] = {
    "segformer": ("transformers", "Hugging Face transformers"),
    "timm": ("timm", "timm"),
    "official-sam": ("efficientsam", "efficientsam (the official EfficientViT-SAM code)"),
}
"""Peer group -> (module it imports, what to call it in an error)."""


def missing_package_error(group: str) -> EfficientViTError:
    """The one-line error for a peer group whose package is not installed."""
    _, what = PEER_PACKAGES[group]
    return missing_extra(f"--peers {group}", what, "bench")


def require_peer_packages(groups: Sequence[str]) -> None:
    """Raise :func:`missing_package_error` for the first of ``groups`` whose package cannot be imported
    (called before anything is timed)."""
    for group in groups:
        if group not in PEER_PACKAGES:
            continue
        module = PEER_PACKAGES[group][0]
        try:
            importlib.import_module(module)
        except ImportError:
            raise missing_package_error(group) from None


def build_timm_b1() -> nn.Module:
    """timm's EfficientViT-B1 (:data:`TIMM_B1`), randomly initialised, in eval mode."""
    try:
        import timm
    except ImportError:
        raise missing_package_error("timm") from None
    return timm.create_model(TIMM_B1, pretrained=False).eval()


def build_official_sam(state_dict: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """The official code's EfficientViT-SAM-L0 (``efficientsam``), in eval mode, with ``state_dict`` (ours:
    the keys are the same) loaded strictly if given, else randomly initialised."""
    try:
        from efficientsam.sam_model_zoo import create_efficientvit_sam_model
    except ImportError:
        raise missing_package_error("official-sam") from None
    model = create_efficientvit_sam_model(OFFICIAL_SAM, pretrained=False)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    return model.eval()


def official_sam_predictor(model: nn.Module) -> Any:
    """The official ``EfficientViTSamPredictor`` of a model from :func:`build_official_sam`."""
    try:
        from efficientsam.models.efficientvit.sam import EfficientViTSamPredictor
    except ImportError:
        raise missing_package_error("official-sam") from None
    return EfficientViTSamPredictor(model)


class OfficialSamEncoder(nn.Module):
    """Just the image encoder of the official ``EfficientViTSam``: images (B, 3, 512, 512) to embeddings."""

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        self.image_encoder = sam.image_encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(images)  # (B, 256, 64, 64)


@dataclass(frozen=True)
class OfficialExport:
    """What :func:`export_official_onnx` wrote."""

    opset: int
    """The file's opset (torch's exporter may keep a newer one than the 17 asked for)."""
    epsilons_kept: bool
    """Whether every LiteMLA attention epsilon survived the exporter's default graph optimisation (it
    removes ``x + c`` for ``c`` within 1e-8 of zero: see :mod:`efficientvit.export.onnx`)."""

    def describe(self) -> str:
        """A few words for the row's note."""
        epsilon = "kept" if self.epsilons_kept else "dropped"
        return f"opset {OFFICIAL_ONNX_OPSET} asked, {self.opset} written, LiteMLA eps {epsilon}"


def export_official_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> OfficialExport:
    """Export ``model`` (as it is: unfused, eager) as the official ``assets/onnx_export.py`` does, by plain
    ``torch.onnx.export(model, (x,), path, opset_version=17)`` with torch's default exporter.

    The exporter's progress lines and warnings are kept out of the benchmark's output; an export that fails
    raises ``EfficientViTError`` with its reason.
    """
    from efficientvit.export.onnx import count_attention_epsilons

    onnx = require("onnx", "--peers official-onnx")

    chatter = io.StringIO()
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with (
            torch.inference_mode(False),
            torch.no_grad(),
            warnings.catch_warnings(),
            contextlib.redirect_stdout(chatter),
        ):
            warnings.simplefilter("ignore")
            torch.onnx.export(model.eval(), (x,), str(path), opset_version=OFFICIAL_ONNX_OPSET)
    except Exception as error:
        reason = " ".join(str(error).split())[:300]
        raise EfficientViTError(f"torch.onnx.export of {type(model).__name__} failed: {reason}") from error
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    proto = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), OFFICIAL_ONNX_OPSET)
    epsilons = Counter(m.eps for m in model.modules() if isinstance(m, LiteMLA) and m.eps != 0)
    kept = all(count_attention_epsilons(proto, eps) >= count for eps, count in epsilons.items())
    return OfficialExport(opset=opset, epsilons_kept=kept)
