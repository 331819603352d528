"""LiteMLA: the linear and quadratic paths, the official epsilon, float32 under autocast."""

from __future__ import annotations

import pytest
import torch

from efficientvit.layers import LiteMLA
from efficientvit.layers.attention import OFFICIAL_EPS


def _naive_relu_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float) -> torch.Tensor:
    """out[:, :, :, n] = sum_m v_m <k_m, q_n> / (sum_m <k_m, q_n> + eps), in float64, token by token."""
    q, k, v = q.double().relu(), k.double().relu(), v.double()
    scores = torch.einsum("bhdm,bhdn->bhmn", k, q)  # (B, heads, N_k, N_q)
    return torch.einsum("bhdm,bhmn->bhdn", v, scores) / (scores.sum(dim=2, keepdim=True) + eps)


@pytest.mark.parametrize("tokens", [1, 4, 16, 17, 64])
def test_linear_and_quadratic_paths_equal_the_naive_formula(tokens: int) -> None:
    attention = LiteMLA(32, 32, head_dim=8)
    generator = torch.Generator().manual_seed(tokens)
    q, k, v = (torch.randn(2, 4, 8, tokens, generator=generator) for _ in range(3))
    expected = _naive_relu_attention(q, k, v, OFFICIAL_EPS).float()
    torch.testing.assert_close(attention._linear(q.relu(), k.relu(), v), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(attention._quadratic(q.relu(), k.relu(), v), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("size", "path"), [((2, 4), "_quadratic"), ((4, 4), "_linear"), ((3, 3), "_linear")])
def test_tiny_maps_take_the_quadratic_path(size: tuple[int, int], path: str, monkeypatch) -> None:
    """As in the official model: quadratic when H * W <= head_dim (here 8), linear otherwise."""
    attention = LiteMLA(16, 16, head_dim=8).eval()
    called = []
    original = getattr(attention, path)
    monkeypatch.setattr(attention, path, lambda *args: called.append(path) or original(*args))
    attention(torch.randn(1, 16, *size))
    assert called == [path]


def test_attention_runs_in_float32_under_bf16_autocast() -> None:
    attention = LiteMLA(32, 32, head_dim=8).eval()
    qkv = torch.randn(1, 3 * 32 * 2, 16, 16) * 30  # large activations, as in deep stages
    with torch.no_grad():
        reference = attention.relu_attention(qkv)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            under_autocast = attention.relu_attention(qkv)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, reference)


def test_all_zero_input_gives_zero_not_nan() -> None:
    """With q = k = 0 the normaliser is just eps: the official epsilon keeps 0 / eps finite."""
    attention = LiteMLA(32, 32, head_dim=8)
    zeros = torch.zeros(1, 4, 8, 100)
    assert torch.equal(attention._linear(zeros, zeros, zeros), torch.zeros(1, 4, 8, 100))
    assert attention.eps == OFFICIAL_EPS == 1e-15
