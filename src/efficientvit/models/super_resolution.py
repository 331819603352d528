"""EfficientViT-SR: single-image super-resolution with EfficientViT blocks.

The paper (Cai et al., ICCV 2023) reports super-resolution results but its SR architecture was
never released; this is our own design, built from the paper's blocks:

- the input is pixel-unshuffled (each 2x2 block of pixels becomes 12 channels: nothing is lost) and a 3x3
  conv stem starts a body that runs at half the input resolution (``body_stride``), on a quarter of the
  tokens;
- ``depth`` EfficientViT blocks: LiteMLA's ReLU linear attention within non-overlapping ``window_size`` x
  ``window_size`` windows (shifted by half a window in every other block, as in Swin), so the receptive
  field is bounded and tiled inference reproduces whole-image inference exactly (see
  ``EfficientViTSR.tile_margin``), then a fused MBConv (a full 3x3 conv that expands, a 1x1 that projects:
  the FFN of EfficientViT-L's early stages), both residual;
- a 3x3 conv with a long skip over the blocks, a 3x3 conv to ``3 * (scale * body_stride)**2`` channels and a
  pixel shuffle back to the output resolution;
- a global residual: the output is the bicubic upsampling of the input plus the predicted detail. The last
  conv starts at zero, so an untrained model is exactly bicubic.

No batch normalisation: results do not depend on the batch or on tiling. Full 3x3 convs at width 64 run at
a far higher FLOP rate on a CPU than depthwise convs and windowed attention at the input resolution, which
is what the first design (``efficientvit.benchmark.sr_designs`` keeps it, with every other design that was
measured) spent its time on.

=======  =====  =====  ========  =========  =========  =========  ==================
size     width  depth  head_dim  params x2  params x3  params x4  MACs x2, 256x256 in
=======  =====  =====  ========  =========  =========  =========  ==================
full     64     3      16        367,088    401,708    450,176    6.11 G
0.75w    48     3      16        213,120    239,100    275,472    3.57 G
=======  =====  =====  ========  =========  =========  =========  ==================

Input: (B, 3, h, w) RGB in [0, 1], any h, w >= 1. Output: (B, 3, h * scale, w * scale), about [0, 1],
not clamped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.layers import ConvNormAct, FusedMBConv, LiteMLA, MBConv, OpSequential, ResidualBlock
from efficientvit.layers.types import ActFactory
from efficientvit.pretrained import PretrainedMixin


@dataclass(frozen=True)
class SuperResolutionConfig:
    """An EfficientViT-SR model: width and depth of the body, attention windows, upscaling factor."""

    width: int
    depth: int
    head_dim: int = 16
    expand_ratio: float = 2
    scale: int = 2
    window_size: int = 8
    scales: tuple[int, ...] = (5,)
    """Kernel sizes of LiteMLA's multi-scale token aggregation."""
    act: ActFactory = nn.Hardswish
    ffn: Literal["mbconv", "fused_mbconv"] = "mbconv"
    """The blocks' feed-forward part: ``"mbconv"`` (1x1 expand, depthwise 3x3, 1x1 project; the B series)
    or ``"fused_mbconv"`` (one full 3x3 conv that expands, then a 1x1 project; the L series' early stages),
    which spends more MACs but runs them at a far higher rate on a CPU."""
    body_stride: int = 1
    """The body runs at ``1 / body_stride`` of the input resolution: the input is pixel-unshuffled into
    ``body_stride**2`` times the channels (no pixel is lost) and the detail pixel-shuffled back by
    ``scale * body_stride``. Attention windows then cover ``window_size * body_stride`` input pixels."""
    refine_width: int = 0
    """With ``body_stride > 1``: channels of a refinement at the input resolution, where the body's features
    (pixel-shuffled back) meet a 3x3 conv of the input before the detail is predicted (0: none)."""


SR_CONFIGS: dict[str, SuperResolutionConfig] = {
    "full": SuperResolutionConfig(width=64, depth=3, body_stride=2, scales=(), ffn="fused_mbconv"),
    "0.75w": SuperResolutionConfig(width=48, depth=3, body_stride=2, scales=(), ffn="fused_mbconv"),
}
"""The two sizes, at scale 2; the registry derives x3 and x4 with ``dataclasses.replace``."""


class WindowedLiteMLA(LiteMLA):
    """LiteMLA (Sec. 3.1) whose ReLU linear attention runs within non-overlapping square windows.

    Windows are laid from the top-left corner of the map, offset by ``shift`` pixels (the first row and
    column of windows are then ``window_size - shift`` wide). Partial windows at the borders are completed
    with zero q/k/v tokens, which ReLU attention ignores (a zero key adds nothing to either sum), so every
    window attends over exactly its real tokens. The multi-scale aggregation convs still see across windows.
    """

    def __init__(
        self,
        channels: int,
        *,
        head_dim: int,
        window_size: int,
        shift: int = 0,
        scales: tuple[int, ...] = (5,),
    ) -> None:
        super().__init__(channels, channels, head_dim=head_dim, scales=scales, norm=None)
        if window_size < 1 or not 0 <= shift < window_size:
            raise ValueError(
                f"need window_size >= 1 and 0 <= shift < window_size, got {window_size}, {shift}"
            )
        self.window_size = window_size
        self.shift = shift

    def relu_attention(self, qkv: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = qkv.shape
        size, shift = self.window_size, self.shift
        bottom, right = -(height + shift) % size, -(width + shift) % size
        qkv = F.pad(qkv, (shift, right, shift, bottom))  # (B, C, Hp, Wp), Hp and Wp multiples of size
        rows, cols = qkv.shape[-2] // size, qkv.shape[-1] // size
        qkv = qkv.reshape(batch, channels, rows, size, cols, size)  # (B, C, rows, ws, cols, ws)
        qkv = qkv.permute(0, 2, 4, 1, 3, 5).reshape(-1, channels, size, size)  # (B * rows * cols, C, ws, ws)
        out = super().relu_attention(qkv)  # (B * rows * cols, D, ws, ws)
        out = out.reshape(batch, rows, cols, -1, size, size)  # (B, rows, cols, D, ws, ws)
        out = out.permute(0, 3, 1, 4, 2, 5).reshape(batch, -1, rows * size, cols * size)  # (B, D, Hp, Wp)
        return out[:, :, shift : shift + height, shift : shift + width]  # (B, D, H, W)

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift={self.shift}"


class SRBlock(nn.Module):
    """EfficientViT block (Fig. 2) without normalisation: windowed LiteMLA, then an MBConv, both residual."""

    def __init__(
        self,
        channels: int,
        *,
        head_dim: int,
        expand_ratio: float,
        window_size: int,
        shift: int,
        scales: tuple[int, ...],
        act: ActFactory,
        ffn: str = "mbconv",
    ) -> None:
        super().__init__()
        attention = WindowedLiteMLA(
            channels, head_dim=head_dim, window_size=window_size, shift=shift, scales=scales
        )
        self.context_module = ResidualBlock(attention)
        if ffn == "fused_mbconv":
            local: nn.Module = FusedMBConv(
                channels,
                channels,
                expand_ratio=expand_ratio,
                bias=(True, True),
                norm=(None, None),
                act=(act, None),
            )
        elif ffn == "mbconv":
            local = MBConv(
                channels,
                channels,
                expand_ratio=expand_ratio,
                bias=(True, True, True),
                norm=(None, None, None),
                act=(act, act, None),
            )
        else:
            raise ValueError(f"ffn must be 'mbconv' or 'fused_mbconv', got {ffn!r}")
        self.local_module = ResidualBlock(local)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_module(self.context_module(x))


class EfficientViTSR(nn.Module, PretrainedMixin):
    """EfficientViT-SR (our design; the paper's SR model is unreleased): windowed-LiteMLA EfficientViT
    blocks at ``1 / body_stride`` of the input resolution, a pixel-shuffle upsampler and a global bicubic
    residual."""

    def __init__(self, config: SuperResolutionConfig) -> None:
        super().__init__()
        if config.scale < 1:
            raise ValueError(f"scale must be >= 1, got {config.scale}")
        if config.body_stride < 1:
            raise ValueError(f"body_stride must be >= 1, got {config.body_stride}")
        self.config = config
        self.scale = config.scale
        self.body_stride = config.body_stride
        self.window_size = config.window_size * config.body_stride
        """The attention window grid, in input pixels (tiles are aligned on it)."""
        width = config.width
        stride = config.body_stride
        self.unshuffle = nn.PixelUnshuffle(stride)
        self.stem = ConvNormAct(3 * stride**2, width, 3, bias=True, norm=None, act=None)
        self.blocks = OpSequential(
            SRBlock(
                width,
                head_dim=config.head_dim,
                expand_ratio=config.expand_ratio,
                window_size=config.window_size,
                shift=(i % 2) * (config.window_size // 2),
                scales=config.scales,
                act=config.act,
                ffn=config.ffn,
            )
            for i in range(config.depth)
        )
        self.body_end = ConvNormAct(width, width, 3, bias=True, norm=None, act=None)
        refine = config.refine_width
        if refine and (stride == 1 or width % stride**2):
            raise ValueError(f"refine_width needs body_stride > 1 and width divisible by {stride}**2")
        self.refine: nn.Module | None = None
        if refine:
            self.to_input_grid = nn.PixelShuffle(stride)
            self.input_stem = ConvNormAct(3, refine, 3, bias=True, norm=None, act=None)
            self.refine = ConvNormAct(
                width // stride**2 + refine, refine, 3, bias=True, norm=None, act=config.act
            )
        out_stride = config.scale if refine else config.scale * stride
        self.to_pixels = ConvNormAct(refine or width, 3 * out_stride**2, 3, bias=True, norm=None, act=None)
        self.shuffle = nn.PixelShuffle(out_stride)
        # The detail branch starts at zero: an untrained model is exactly bicubic upsampling.
        nn.init.zeros_(self.to_pixels.conv.weight)
        nn.init.zeros_(self.to_pixels.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        stride = self.body_stride
        if stride > 1:  # sides to multiples of the stride, edge pixels repeated (cropped off the output)
            x_body = F.pad(x - 0.5, (0, -width % stride, 0, -height % stride), mode="replicate")
        else:
            x_body = x - 0.5  # centre the [0, 1] input
        body_input = self.unshuffle(x_body)  # (B, 3 * t^2, h / t, w / t), t = body_stride
        features = self.stem(body_input)  # (B, width, h / t, w / t)
        features = features + self.body_end(self.blocks(features))  # long skip over the blocks
        if self.refine is not None:  # back to the input grid, with the input's own 3x3 features
            body = self.to_input_grid(features)  # (B, width / t^2, h, w) (padded sides)
            local = self.input_stem(x_body)  # (B, refine, h, w)
            features = self.refine(torch.cat([body, local], dim=1))  # (B, refine, h, w)
        detail = self.shuffle(self.to_pixels(features))  # (B, 3 * s'^2, h', w') -> (B, 3, h s, w s)
        if stride > 1:
            detail = detail[..., : height * self.scale, : width * self.scale]
        return self.bicubic(x) + detail

    def bicubic(self, x: torch.Tensor) -> torch.Tensor:
        """The global residual: ``x`` upsampled ``scale`` times, bicubic (in float32 under autocast)."""
        if self.scale == 1:
            return x
        up = F.interpolate(x.float(), scale_factor=self.scale, mode="bicubic", align_corners=False)
        return up.to(x.dtype)  # (B, 3, h * s, w * s)

    @property
    def tile_margin(self) -> int:
        """Input pixels of context on each side of a tile that make tiled inference equal to whole-image
        inference, a multiple of ``window_size``.

        A tile's border pixels are wrong (convs pad with zeros there). Each conv spreads the error by its
        radius; each windowed attention spreads it to the end of every window it touches. Tiles whose
        corners lie on the window grid (multiples of ``window_size`` from the image's top-left) see the same
        windows as the whole image, so a margin covering the spread reproduces the result exactly. The
        spread is counted in body pixels (``body_stride`` input pixels each).
        """
        size = self.config.window_size  # in body pixels
        wrong = 1  # stem 3x3
        for block in self.blocks.op_list:
            attention = block.context_module.main
            wrong += max(self.config.scales, default=1) // 2  # multi-scale aggregation, depthwise kxk
            # Window edges lie at distances = -shift (mod size) from the near edge of a grid-aligned tile
            # and = shift (mod size) from its far edge; the error fills the windows it reaches.
            wrong = max(_next_at(wrong, -attention.shift, size), _next_at(wrong, attention.shift, size))
            wrong += 1  # the FFN's 3x3 conv (depthwise in MBConv, full in fused MBConv)
        if self.refine is None:
            wrong_input = (wrong + 2) * self.body_stride  # body_end and to_pixels, 3x3 each
        else:
            wrong_input = (wrong + 1) * self.body_stride + 2  # body_end; refine and to_pixels at input size
        wrong_input = max(wrong_input, 2)  # the bicubic kernel reaches 2 input pixels
        return math.ceil(wrong_input / self.window_size) * self.window_size


def _next_at(distance: int, offset: int, period: int) -> int:
    """The smallest d >= ``distance`` with d = ``offset`` (mod ``period``)."""
    return distance + (offset - distance) % period


def build_super_resolution(config: SuperResolutionConfig) -> EfficientViTSR:
    """The EfficientViT-SR model of ``config``."""
    return EfficientViTSR(config)
