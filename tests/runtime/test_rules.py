"""What ``auto`` picks: the measured CPU rules for float32, safe choices elsewhere."""

from __future__ import annotations

import pytest
import torch

from efficientvit.runtime import GRAPHS, auto_backend
from efficientvit.runtime import rules as rules_module
from efficientvit.runtime.rules import CPU_RULES


def test_every_graph_has_a_measured_cpu_rule() -> None:
    assert set(CPU_RULES) == set(GRAPHS)
    for graph in GRAPHS:
        assert auto_backend(graph, torch.device("cpu"), torch.float32) == CPU_RULES[graph]
        assert graph in (rules_module.__doc__ or "")  # the measurement behind it is written down


def test_other_dtypes_devices_and_a_missing_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    assert auto_backend("segmenter", torch.device("cpu"), torch.float16) == "fused"
    assert auto_backend("segmenter", torch.device("cuda"), torch.float32) == "fused"
    assert auto_backend("segmenter", torch.device("mps"), torch.float32) == "eager"
    monkeypatch.setattr(rules_module, "onnxruntime_available", lambda: False)
    assert auto_backend("segmenter", torch.device("cpu"), torch.float32) == "fused"
