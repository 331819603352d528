"""save_pretrained / from_pretrained / push_to_hub: a config that travels with the weights, offline."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import efficientvit
from efficientvit import EfficientViTError, create_model, from_pretrained
from efficientvit.inference import classify
from efficientvit.models import EfficientViTClassifier, EfficientViTSeg

CLS = "efficientvit-b0"
SEG = "efficientvit-seg-b0-cityscapes"
CLS_NAMES = [f"kind {i}" for i in range(10)]
SEG_NAMES = ["background", "disc", "rectangle", "triangle"]
SEG_PALETTE = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]


def _perturbed(model: nn.Module, seed: int) -> nn.Module:
    """``model`` with every float tensor replaced by values drawn from ``seed``: the same seed gives the same
    model, and a load that missed a tensor shows in the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(noise + 0.5 if name.endswith("running_var") else 0.2 * (noise - 0.5))
    return model.eval()


def _classifier(seed: int = 0) -> nn.Module:
    return _perturbed(create_model(CLS, num_classes=10, class_names=CLS_NAMES), seed)


def _segmenter(seed: int = 0) -> nn.Module:
    model = create_model(SEG, num_classes=4, class_names=SEG_NAMES, palette=SEG_PALETTE)
    return _perturbed(model, seed)


def _outputs(model: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.randn(shape, generator=torch.Generator().manual_seed(1)))


def test_a_10_class_classifier_round_trips_with_its_class_names(tmp_path: Path) -> None:
    model = _classifier()
    folder = tmp_path / "b0-10"
    assert model.save_pretrained(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text()) == {
        "format": "efficientvit-pretrained",
        "format_version": 1,
        "efficientvit_version": efficientvit.__version__,
        "model_name": CLS,
        "task": "cls",
        "num_classes": 10,
        "overrides": {"num_classes": 10},
        "class_names": CLS_NAMES,
        "palette": None,
    }
    tensors = load_file(folder / "model.safetensors")  # safetensors' own reader, not ours
    assert tensors.keys() == model.state_dict().keys()
    assert all(torch.equal(tensors[k], v) for k, v in model.state_dict().items())

    loaded = from_pretrained(folder)
    assert type(loaded) is EfficientViTClassifier and not loaded.training
    assert loaded.info.num_classes == 10 and loaded.info.class_names == tuple(CLS_NAMES)
    assert loaded.info.overrides == {"num_classes": 10}
    assert torch.equal(_outputs(loaded, (2, 3, 32, 32)), _outputs(model, (2, 3, 32, 32)))
    image = torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8)
    (top,) = classify(loaded, [image], top_k=3, backend="eager")
    assert len(top) == 3 and all(label in CLS_NAMES for label, _ in top)
    # the classmethod and create_model(name, weights=folder) load the same model
    assert type(EfficientViTClassifier.from_pretrained(folder)) is EfficientViTClassifier
    again = create_model(CLS, weights=folder)
    assert again.info.class_names == tuple(CLS_NAMES)
    assert torch.equal(_outputs(again, (1, 3, 32, 32)), _outputs(model, (1, 3, 32, 32)))
    with pytest.raises(EfficientViTError, match=r"holds efficientvit-b0 .*, not a EfficientViTSeg"):
        EfficientViTSeg.from_pretrained(folder)


def test_a_4_class_segmenter_round_trips_with_its_class_names_and_palette(tmp_path: Path) -> None:
    model = _segmenter()
    efficientvit.save_pretrained(model, tmp_path / "seg")
    config = json.loads((tmp_path / "seg" / "config.json").read_text())
    assert (config["model_name"], config["task"], config["num_classes"]) == (SEG, "seg", 4)
    assert config["overrides"] == {"num_classes": 4}
    assert config["class_names"] == SEG_NAMES and config["palette"] == SEG_PALETTE
    loaded = from_pretrained(tmp_path / "seg")
    assert type(loaded) is EfficientViTSeg
    assert loaded.info.class_names == tuple(SEG_NAMES)
    assert loaded.info.palette == tuple(map(tuple, SEG_PALETTE))
    out = _outputs(loaded, (1, 3, 64, 96))
    assert out.shape == (1, 4, 8, 12) and torch.equal(out, _outputs(model, (1, 3, 64, 96)))


def test_a_folder_of_another_model_says_what_it_holds(tmp_path: Path) -> None:
    _segmenter().save_pretrained(tmp_path / "seg")
    with pytest.raises(EfficientViTError) as caught:
        create_model("efficientvit-seg-b1-cityscapes", weights=tmp_path / "seg")
    message = str(caught.value)
    assert f"holds {SEG} with 4 classes, not efficientvit-seg-b1-cityscapes" in message
    assert "\n" not in message


def test_overrides_that_cannot_be_json_are_refused(tmp_path: Path) -> None:
    model = create_model(CLS, act=nn.ReLU)
    with pytest.raises(EfficientViTError, match=r"the override act=.* cannot be written to config\.json"):
        model.save_pretrained(tmp_path / "relu")
    assert not (tmp_path / "relu" / "config.json").exists()


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ({"format": "something-else"}, 'no "format": "efficientvit-pretrained"'),
        ({"format_version": 99}, "format version 99"),
        ({"model_name": "efficientvit-z9"}, "unknown model 'efficientvit-z9'"),
        ({"overrides": {"num_clases": 10}}, "has no config field(s) ['num_clases']"),
        ({"class_names": ["a", "b"]}, "2 class names for 10 classes"),
    ],
)
def test_a_bad_config_is_one_line(tmp_path: Path, edit: dict[str, Any], needle: str) -> None:
    folder = tmp_path / "b0"
    _classifier().save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **edit}))
    with pytest.raises(EfficientViTError) as caught:
        from_pretrained(folder)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_without_config_and_a_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EfficientViTError, match=r"a folder without config\.json"):
        from_pretrained(tmp_path / "empty")
    (tmp_path / "weights.pt").write_bytes(b"x")
    with pytest.raises(EfficientViTError, match="not a folder; from_pretrained takes a folder"):
        from_pretrained(tmp_path / "weights.pt")


# --- the Hugging Face hub, offline: a real cache layout written by hand -------------------------------------

REPO_ID = "someone/efficientvit-b0-10"
OLD, NEW = "a" * 40, "b" * 40


def _write_hub_cache(cache: Path, repo_id: str, snapshots: dict[str, Path], main: str) -> None:
    """huggingface_hub's cache layout: blobs named by content hash, snapshot files linking to them, and
    ``refs/main`` naming the commit that branch points to."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    for commit, folder in snapshots.items():
        (repo / "snapshots" / commit).mkdir(parents=True)
        for file in folder.iterdir():
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            shutil.copyfile(file, repo / "blobs" / digest)
            (repo / "snapshots" / commit / file.name).symlink_to(Path("..", "..", "blobs", digest))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(main)


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An offline hub cache in tmp_path with two commits of REPO_ID (main is NEW), named by HF_HUB_CACHE and
    HF_HUB_OFFLINE=1 in the environment; huggingface_hub's constants are re-read from it, as a fresh
    interpreter would read them, and restored afterwards."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    _classifier(seed=1).save_pretrained(tmp_path / "old")
    _classifier(seed=2).save_pretrained(tmp_path / "new")
    _write_hub_cache(cache, REPO_ID, {OLD: tmp_path / "old", NEW: tmp_path / "new"}, main=NEW)
    with monkeypatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        importlib.reload(constants)
        assert str(cache) == constants.HF_HUB_CACHE and constants.HF_HUB_OFFLINE
        try:
            yield cache
        finally:
            patch.undo()
    importlib.reload(constants)


def test_a_hub_repo_loads_offline_from_the_cache_at_main_or_a_pinned_revision(hub_cache: Path) -> None:
    shape = (1, 3, 32, 32)
    latest = from_pretrained(REPO_ID)
    assert latest.info.class_names == tuple(CLS_NAMES)
    assert torch.equal(_outputs(latest, shape), _outputs(_classifier(seed=2), shape))
    pinned = from_pretrained(REPO_ID, revision=OLD)
    assert torch.equal(_outputs(pinned, shape), _outputs(_classifier(seed=1), shape))
    assert not torch.equal(_outputs(pinned, shape), _outputs(latest, shape))


def test_a_repo_or_revision_missing_offline_is_one_line(hub_cache: Path) -> None:
    for call in (
        lambda: from_pretrained("someone/not-cached"),
        lambda: from_pretrained(REPO_ID, revision="c" * 40),
    ):
        with pytest.raises(EfficientViTError) as caught:
            call()
        message = str(caught.value)
        assert "not in the hub cache" in message and "HF_HUB_OFFLINE" in message and "\n" not in message
    with pytest.raises(EfficientViTError, match="no such folder, and not a hub repo id"):
        from_pretrained("not a repo id!")


def test_push_to_hub_uploads_the_saved_folder_in_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import HfApi

    calls: list[tuple[str, dict[str, Any]]] = []
    uploads = iter(range(1, 10))

    class Repo:
        repo_id = "me/b0-10"

    def create_repo(self: HfApi, **kwargs: Any) -> Repo:
        calls.append(("create_repo", kwargs))
        return Repo()

    def upload_folder(self: HfApi, **kwargs: Any) -> str:
        calls.append(("upload_folder", kwargs))
        shutil.copytree(kwargs["folder_path"], tmp_path / f"uploaded-{next(uploads)}")
        return "https://huggingface.co/me/b0-10/commit/0123"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    model = _classifier()
    url = model.push_to_hub("b0-10", private=True, branch="dev", commit_message="fine-tuned")
    assert url == "https://huggingface.co/me/b0-10/commit/0123"
    assert calls[0] == ("create_repo", {"repo_id": "b0-10", "private": True, "exist_ok": True})
    name, upload = calls[1]
    assert name == "upload_folder"
    assert (upload["repo_id"], upload["repo_type"], upload["revision"]) == ("me/b0-10", "model", "dev")
    assert upload["commit_message"] == "fine-tuned" and upload["create_pr"] is None
    uploaded = tmp_path / "uploaded-1"
    assert sorted(p.name for p in uploaded.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    card = (uploaded / "README.md").read_text()
    assert "library_name: efficientvit" in card and "efficientvit.from_pretrained('me/b0-10')" in card
    loaded = from_pretrained(uploaded)
    assert torch.equal(_outputs(loaded, (1, 3, 32, 32)), _outputs(model, (1, 3, 32, 32)))
    # save_pretrained(push_to_hub=True) pushes under the folder's name by default
    calls.clear()
    assert model.save_pretrained(tmp_path / "b0-ten", push_to_hub=True) == url
    assert calls[0][1]["repo_id"] == "b0-ten"


def test_push_to_hub_failing_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import HfApi

    def create_repo(self: HfApi, **kwargs: Any) -> None:
        raise OSError("Network is unreachable\nmore detail")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    with pytest.raises(
        EfficientViTError, match=r"^could not push to the hub repo me/x \(Network is unreachable\)"
    ):
        _classifier().push_to_hub("me/x")


def test_a_model_class_count_change_without_names_has_no_names_but_a_palette() -> None:
    info = create_model(SEG, num_classes=30).info
    assert info.class_names == () and len(info.palette) == 30 and len(set(info.palette)) == 30
    assert create_model(CLS, num_classes=10).info.class_names == ()
    with pytest.raises(EfficientViTError, match="3 class names for 10 classes"):
        create_model(CLS, num_classes=10, class_names=["a", "b", "c"])
    with pytest.raises(EfficientViTError, match="a palette of 1 colours for 4 classes"):
        create_model(SEG, num_classes=4, palette=[[1, 2, 3]])
