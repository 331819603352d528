"""Reading checkpoints: official formats, safetensors, the hub cache, and every way a file can be wrong."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import torch

from efficientvit import EfficientViTError, create_model
from efficientvit.weights import HUB_PROBE_SECONDS, read_state_dict, save_safetensors

NAME = "efficientvit-b0-r224"


@pytest.fixture(scope="module")
def recipe_state(tmp_path_factory) -> dict[str, torch.Tensor]:
    from efficientvit.reference import load_manifest, recipe_state_dict

    manifests = Path(__file__).parent / "reference" / "manifests"
    return recipe_state_dict(load_manifest(manifests, NAME)["state_dict"])


def _logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.ones(1, 3, 64, 64))


def test_raw_wrapped_ddp_and_safetensors_checkpoints_load_the_same(recipe_state, tmp_path: Path) -> None:
    files = {
        "raw.pt": recipe_state,
        "wrapped.pt": {"state_dict": recipe_state, "epoch": 300},
        "model_key.pth": {"model": recipe_state},
        "ddp.pt": {f"module.{k}": v for k, v in recipe_state.items()},
    }
    for filename, content in files.items():
        torch.save(content, tmp_path / filename)
    reference = _logits(create_model(NAME, weights=tmp_path / "raw.pt"))
    save_safetensors(create_model(NAME, weights=tmp_path / "raw.pt"), tmp_path / "converted.safetensors")
    for filename in [*files, "converted.safetensors"]:
        assert torch.equal(_logits(create_model(NAME, weights=tmp_path / filename)), reference), filename


def test_pickle_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"weight": torch.zeros(1)}, "extra": Payload()}, path)
    with pytest.raises(EfficientViTError, match="refusing to unpickle") as error:
        create_model(NAME, weights=path)
    assert str(path) in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text\n", "not a checkpoint"),
        (b"", "not a checkpoint"),
        (None, "is a directory"),
    ],
)
def test_files_that_are_not_checkpoints(content: bytes | None, message: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(EfficientViTError, match=message) as error:
        read_state_dict(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_truncated_checkpoints(recipe_state, tmp_path: Path) -> None:
    full = tmp_path / "full.pt"
    torch.save(recipe_state, full)
    save_safetensors(create_model(NAME, weights=full), tmp_path / "full.safetensors")
    for source in (full, tmp_path / "full.safetensors"):
        data = source.read_bytes()
        cut = tmp_path / f"cut{source.suffix}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(EfficientViTError, match=str(cut)):
            read_state_dict(cut)


def test_missing_file_names_the_path() -> None:
    with pytest.raises(EfficientViTError, match="no such file"):
        create_model(NAME, weights="/nonexistent/efficientvit_b0_r224.pt")


def test_checkpoint_of_another_model_names_model_checkpoint_and_keys(recipe_state, tmp_path: Path) -> None:
    path = tmp_path / "b0.pt"
    torch.save({"state_dict": recipe_state}, path)
    with pytest.raises(EfficientViTError) as error:
        create_model("efficientvit-b1", weights=path)
    message = str(error.value)
    assert "efficientvit-b1" in message and str(path) in message
    assert "mis-shaped keys" in message and "missing keys" in message and "\n" not in message


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (lambda t: t.to(torch.int32) if t.is_floating_point() else t, "weights that are not floating point"),
        (lambda t: torch.full_like(t, float("nan")) if t.is_floating_point() else t, "NaN or infinite"),
    ],
    ids=["int32", "all-nan"],
)
def test_weights_that_cannot_predict_are_refused(recipe_state, tmp_path: Path, spoil, words: str) -> None:
    path = tmp_path / "spoilt.pt"
    torch.save({k: spoil(v) for k, v in recipe_state.items()}, path)
    with pytest.raises(EfficientViTError) as error:
        create_model(NAME, weights=path)
    message = str(error.value)
    assert words in message and str(path) in message and "use an earlier checkpoint" in message
    assert "another model" not in message and "\n" not in message


def test_one_infinite_weight_is_named(recipe_state, tmp_path: Path) -> None:
    state = dict(recipe_state)
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = (
        state[key].clone().flatten().index_fill_(0, torch.tensor([0]), float("inf")).view_as(state[key])
    )
    path = tmp_path / "one_inf.safetensors"
    from safetensors.torch import save_file

    save_file(state, str(path))
    with pytest.raises(EfficientViTError, match=f"1 weights with NaN or infinite values \\({key}\\)"):
        create_model(NAME, weights=path)


def _fill_hub_cache(cache: Path, repo_id: str, filename: str, source: Path) -> None:
    """Lay a file out as huggingface_hub's cache does: refs/main -> snapshots/<commit>/<file>."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    shutil.copy(source, repo / "snapshots" / commit / filename)


def test_official_and_hf_references_resolve_through_the_hub_cache(
    recipe_state, tmp_path: Path, hub_cache
) -> None:
    cache = hub_cache
    torch.save({"state_dict": recipe_state}, tmp_path / "efficientvit_b0_r224.pt")
    _fill_hub_cache(
        cache, "han-cai/efficientvit-cls", "efficientvit_b0_r224.pt", tmp_path / "efficientvit_b0_r224.pt"
    )
    reference = _logits(create_model(NAME, weights=tmp_path / "efficientvit_b0_r224.pt"))
    assert torch.equal(_logits(create_model(NAME, weights="official")), reference)
    hub_reference = "hf://han-cai/efficientvit-cls/efficientvit_b0_r224.pt"
    assert torch.equal(_logits(create_model("efficientvit-b0", weights=hub_reference)), reference)


def test_offline_without_cache_says_how_to_pass_a_local_file(hub_cache) -> None:
    with pytest.raises(EfficientViTError, match=r"offline.*local path") as error:
        create_model(NAME, weights="official")
    assert "hf://han-cai/efficientvit-cls/efficientvit_b0_r224.pt" in str(error.value)


@pytest.fixture
def unreachable_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline as a laptop on a train is: HF_HUB_OFFLINE unset, and the hub's host refuses connections."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_an_unreachable_hub_is_one_line_at_once(unreachable_hub, hub_cache) -> None:
    start = time.monotonic()
    with pytest.raises(EfficientViTError) as error:
        create_model(NAME, weights="official")
    assert time.monotonic() - start < HUB_PROBE_SECONDS + 1
    assert "127.0.0.1 cannot be reached (this machine looks offline)" in str(error.value)
    assert "pass its local path as weights" in str(error.value)


def test_an_unreachable_hub_still_serves_the_cache(
    unreachable_hub, recipe_state, tmp_path, hub_cache
) -> None:
    source = tmp_path / "efficientvit_b0_r224.pt"
    torch.save({"state_dict": recipe_state}, source)
    _fill_hub_cache(hub_cache, "han-cai/efficientvit-cls", "efficientvit_b0_r224.pt", source)
    assert torch.equal(_logits(create_model(NAME, weights="official")), _logits(create_model(NAME, source)))


def test_bad_hub_reference_and_models_without_official_weights() -> None:
    with pytest.raises(EfficientViTError, match="hf://OWNER/REPO/FILENAME"):
        create_model(NAME, weights="hf://just-a-repo")
    with pytest.raises(EfficientViTError, match="no published checkpoint"):
        create_model("efficientvit-b0", weights="official")
