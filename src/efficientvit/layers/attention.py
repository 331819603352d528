"""LiteMLA: lightweight multi-scale ReLU linear attention (Cai et al., ICCV 2023, Sec. 3.1, Fig. 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from efficientvit.layers.conv import ConvNormAct
from efficientvit.layers.types import NormFactory

OFFICIAL_EPS = 1.0e-15
"""Added to the attention normaliser; the official checkpoints were trained with it (keep it in exports)."""


class LiteMLA(nn.Module):
    """Multi-scale linear attention: Q/K/V by 1x1 conv, extra token scales by depthwise + grouped 1x1 conv,
    ReLU kernel attention per head, then a 1x1 projection.

    Attention runs in float32 even under autocast, as in the official model: the sums over all tokens
    overflow or lose precision in half precision.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        head_dim: int = 8,
        heads_ratio: float = 1.0,
        scales: tuple[int, ...] = (5,),
        norm: NormFactory | None = nn.BatchNorm2d,
        eps: float = OFFICIAL_EPS,
    ) -> None:
        super().__init__()
        heads = int(in_channels // head_dim * heads_ratio)
        total_dim = heads * head_dim
        self.head_dim = head_dim
        self.eps = eps

        self.qkv = ConvNormAct(in_channels, 3 * total_dim, 1, norm=None, act=None)
        self.aggreg = nn.ModuleList(
            nn.Sequential(
                # depthwise kxk mixes neighbouring tokens ...
                nn.Conv2d(
                    3 * total_dim,
                    3 * total_dim,
                    scale,
                    padding=scale // 2,
                    groups=3 * total_dim,
                    bias=False,
                ),
                # ... and a grouped 1x1 mixes channels within each head's q, k and v.
                nn.Conv2d(3 * total_dim, 3 * total_dim, 1, groups=3 * heads, bias=False),
            )
            for scale in scales
        )
        self.proj = ConvNormAct(total_dim * (1 + len(scales)), out_channels, 1, norm=norm, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.qkv(x)  # (B, 3 * total_dim, H, W)
        multi_scale_qkv = [qkv]
        for aggregate in self.aggreg:  # a loop rather than a generator, so that TorchScript compiles it
            multi_scale_qkv.append(aggregate(qkv))
        if len(multi_scale_qkv) > 1:  # (a one-tensor cat would still copy it)
            qkv = torch.cat(multi_scale_qkv, dim=1)  # (B, 3 * total_dim * (1 + scales), H, W)
        out = self.relu_attention(qkv)
        return self.proj(out)

    def relu_attention(self, qkv: torch.Tensor) -> torch.Tensor:
        """Attention of every head, in float32; linear in the token count unless the map is tiny."""
        if torch.jit.is_scripting():  # TorchScript takes no autocast context on a run-time device
            return self._float32_attention(qkv)
        with _autocast_disabled(qkv.device):
            return self._float32_attention(qkv)

    def _float32_attention(self, qkv: torch.Tensor) -> torch.Tensor:
        in_dtype = qkv.dtype
        batch, _, height, width = qkv.shape
        tokens = height * width
        qkv = qkv.float().reshape(batch, -1, 3 * self.head_dim, tokens)  # (B, heads, 3 * head_dim, N)
        q, k, v = qkv.split(self.head_dim, dim=2)  # each (B, heads, head_dim, N)
        q, k = F.relu(q), F.relu(k)
        # The official model switches to the explicit N x N map when N <= head_dim.
        out = self._linear(q, k, v) if tokens > self.head_dim else self._quadratic(q, k, v)
        out = out.reshape(batch, -1, height, width)  # (B, heads * head_dim, H, W)
        return out.to(in_dtype)

    def _linear(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # out_n = sum_m v_m (k_m . q_n) / sum_m (k_m . q_n): first aggregate V K^T (head_dim x head_dim),
        # so the cost grows linearly with N. A row of ones appended to v yields the normaliser.
        v = F.pad(v, (0, 0, 0, 1), mode="constant", value=1.0)  # (B, heads, head_dim + 1, N)
        vk = torch.matmul(v, k.transpose(-1, -2))  # (B, heads, head_dim + 1, head_dim)
        out = torch.matmul(vk, q)  # (B, heads, head_dim + 1, N)
        return out[:, :, :-1] / (out[:, :, -1:] + self.eps)  # (B, heads, head_dim, N)

    def _quadratic(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # Same result through the explicit N x N map; cheaper when N <= head_dim.
        attention = torch.matmul(k.transpose(-1, -2), q)  # (B, heads, N, N)
        attention = attention / (attention.sum(dim=2, keepdim=True) + self.eps)
        return torch.matmul(v, attention)  # (B, heads, head_dim, N)


def _autocast_disabled(device: torch.device) -> torch.autocast:
    device_type = device.type if device.type in ("cpu", "cuda", "xpu", "mps") else "cpu"
    return torch.autocast(device_type=device_type, enabled=False)
