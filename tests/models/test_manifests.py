"""Every registered model has the official state-dict layout, parameter count and MACs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from efficientvit import create_model, get_model_info, list_models
from efficientvit.benchmark.macs import count_macs, count_params
from efficientvit.reference import load_manifest, recipe_sha256, recipe_state_dict

MANIFESTS = Path(__file__).parents[1] / "reference" / "manifests"

OFFICIAL = [name for name in list_models() if get_model_info(name).official]


def test_registry_covers_every_manifest() -> None:
    assert set(OFFICIAL) == {p.stem for p in MANIFESTS.glob("*.json")}


@pytest.mark.parametrize("name", OFFICIAL)
def test_state_dict_params_and_macs_match_manifest(name: str) -> None:
    manifest = load_manifest(MANIFESTS, name)
    with torch.device("meta"):
        model = create_model(name)
    ours = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]
    assert ours == [tuple(entry) for entry in manifest["state_dict"]]
    assert count_params(model) == manifest["num_params"]

    info = get_model_info(name)
    shape = manifest["macs"]["input_shape"]
    assert tuple(shape[-2:]) == info.resolution
    macs = count_macs(model, shape)  # SAM: the image encoder, which is what its forward runs
    assert abs(macs - manifest["macs"]["macs"]) <= 0.01 * manifest["macs"]["macs"]


@pytest.mark.parametrize("name", ["efficientvit-b1", "efficientvit-seg-b0-cityscapes", "efficientvit-sam-l0"])
def test_recipe_weights_match_the_reference_checksum(name: str) -> None:
    """Our recipe implementation gives the very weights the golden outputs were computed with."""
    manifest = load_manifest(MANIFESTS, name)
    assert recipe_sha256(recipe_state_dict(manifest["state_dict"])) == manifest["recipe_check"]["sha256"]
