"""The content-keyed export cache: entries are reused, checked, rebuilt when broken, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from efficientvit.errors import EfficientViTError
from efficientvit.runtime import cache
from efficientvit.runtime.cache import MANIFEST, cached_entry, entry_digest


@pytest.fixture
def builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The cache in a fresh folder; the returned list records every build's scratch folder."""
    monkeypatch.setenv("EFFICIENTVIT_CACHE", str(tmp_path / "cache"))
    return []


def entry(key: dict, builds: list[Path], payload: bytes = b"graph") -> Path:
    def build(folder: Path) -> None:
        builds.append(folder)
        (folder / "model.onnx").write_bytes(payload)

    return cached_entry("m-g", key, build, announce="building")


def test_an_entry_is_built_once_and_reused(builds: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    first = entry({"weights": "a"}, builds)
    assert (first / "model.onnx").read_bytes() == b"graph" and len(builds) == 1
    assert f"building (once: cached in {first})" in capsys.readouterr().err
    assert entry({"weights": "a"}, builds) == first and len(builds) == 1
    assert capsys.readouterr().err == ""
    manifest = json.loads((first / MANIFEST).read_text())
    assert manifest["key"] == {"weights": "a"} and manifest["files"]["model.onnx"]["bytes"] == 5
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_the_key_is_the_content_not_a_path(builds: list[Path]) -> None:
    assert entry({"weights": "a"}, builds) != entry({"weights": "b"}, builds)
    assert entry_digest({"a": 1, "b": 2}) == entry_digest({"b": 2, "a": 1})
    assert len(builds) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: (e / "model.onnx").write_bytes(b"gra"),  # truncated
        lambda e: (e / "model.onnx").write_bytes(b"GRAPH"),  # same size, other bytes
        lambda e: (e / "model.onnx").unlink(),
        lambda e: (e / MANIFEST).write_text("{"),
        lambda e: (e / MANIFEST).unlink(),
    ],
    ids=["truncated", "corrupted", "missing-file", "bad-manifest", "no-manifest"],
)
def test_a_broken_entry_is_removed_and_rebuilt(builds, damage, capsys: pytest.CaptureFixture[str]) -> None:
    first = entry({"weights": "a"}, builds)
    damage(first)
    capsys.readouterr()
    again = entry({"weights": "a"}, builds)
    assert again == first and len(builds) == 2
    assert (again / "model.onnx").read_bytes() == b"graph"
    err = capsys.readouterr().err
    assert f"cache entry {first} is unusable" in err and "rebuilding" in err


def test_a_concurrent_build_that_finished_first_wins(builds: list[Path], tmp_path: Path) -> None:
    key = {"weights": "a"}

    def build(folder: Path) -> None:
        builds.append(folder)
        (folder / "model.onnx").write_bytes(b"ours")
        # Meanwhile another process completes the same entry.
        other = cached_entry("m-g", key, lambda f: (f / "model.onnx").write_bytes(b"theirs"), announce="x")
        assert (other / "model.onnx").read_bytes() == b"theirs"

    path = cached_entry("m-g", key, build, announce="building")
    assert (path / "model.onnx").read_bytes() == b"theirs"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_a_failed_build_leaves_nothing(builds: list[Path]) -> None:
    def build(folder: Path) -> None:
        (folder / "model.onnx").write_bytes(b"half")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError, match="exporter crashed"):
        cached_entry("m-g", {"weights": "a"}, build, announce="building")
    root = cache.cache_root() / "onnx"
    assert list(root.iterdir()) == []


def test_an_unwritable_cache_falls_back_to_the_temp_folder(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("EFFICIENTVIT_CACHE", str(blocker / "cache"))  # below a file: cannot be created
    monkeypatch.setattr(cache.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    path = cached_entry("m-g", {"k": 1}, lambda f: (f / "x").write_bytes(b"1"), announce="building")
    assert path.is_relative_to(tmp_path / "tmp")
    monkeypatch.setattr(cache.tempfile, "gettempdir", lambda: str(blocker / "tmp"))
    with pytest.raises(EfficientViTError, match="EFFICIENTVIT_CACHE"):
        cached_entry("m-g", {"k": 2}, lambda f: None, announce="building")


def test_cache_root_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EFFICIENTVIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_root() == tmp_path / "efficientvit"
    monkeypatch.setenv("EFFICIENTVIT_CACHE", os.fspath(tmp_path / "mine"))
    assert cache.cache_root() == tmp_path / "mine"
