"""The official-compatibility reference data: manifests of the official state dicts, the deterministic
weight recipe that fills them, and golden outputs of the official implementation.

The data's format is described in ``tests/reference/README.md``; the tests and anyone porting a model
use these helpers to check a model against the official one without a real checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

ManifestEntry = tuple[str, Sequence[int], str]


def load_manifest(directory: Path, model_name: str) -> dict[str, Any]:
    """The manifest ``<directory>/<model_name>.json``."""
    return json.loads((directory / f"{model_name}.json").read_text())


def recipe_state_dict(entries: Sequence[ManifestEntry]) -> dict[str, torch.Tensor]:
    """Deterministic weights for a manifest (recipe v1): entry ``i`` comes from a generator seeded ``i``."""
    state: dict[str, torch.Tensor] = {}
    for i, (key, shape_list, _dtype) in enumerate(entries):
        generator = torch.Generator().manual_seed(i)
        shape = tuple(shape_list)
        if key.endswith("num_batches_tracked"):
            tensor = torch.zeros(shape, dtype=torch.int64)
        elif key.endswith("running_var"):
            tensor = 0.5 + torch.rand(shape, generator=generator)
        elif key.endswith("running_mean"):
            tensor = 0.1 * torch.randn(shape, generator=generator)
        elif len(shape) == 1 and key.endswith("bias"):
            tensor = 0.02 * torch.randn(shape, generator=generator)
        elif len(shape) == 1:
            tensor = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        else:
            tensor = torch.randn(shape, generator=generator) / math.sqrt(math.prod(shape[1:]))
        state[key] = tensor
    return state


def recipe_sha256(state: dict[str, torch.Tensor]) -> str:
    """Checksum of recipe weights, to compare with ``manifest["recipe_check"]["sha256"]``."""
    digest = hashlib.sha256()
    for tensor in state.values():
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def golden_input(shape: Sequence[int]) -> torch.Tensor:
    """The seeded input of every golden case."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1234))


def golden_tolerance(golden: torch.Tensor) -> float:
    """Allowed max |ours - golden|: ``1e-4 * max|golden| + 1e-5``."""
    return 1e-4 * golden.abs().max().item() + 1e-5
