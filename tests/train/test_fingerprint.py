"""Dataset fingerprints: a resumed run notices files that came, went or changed size, and names them."""

from __future__ import annotations

from pathlib import Path

import pytest

from efficientvit.train import fingerprint
from efficientvit.train.data import RepeatedDataset
from efficientvit.train.fingerprint import config_differences, data_differences, dataset_fingerprint


class _Pairs:
    def __init__(self, samples: list) -> None:
        self.samples = samples


def _dataset(root: Path, names: list[str], label: bool = False) -> _Pairs:
    for name in names:
        (root / name).write_bytes(b"x" * len(name))
    return _Pairs([(root / name, 3) if label else (root / name, root / name) for name in names])


def test_same_files_same_fingerprint_through_wrappers(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, ["a.png", "b.png"])
    first = dataset_fingerprint(RepeatedDataset(dataset, 3), tmp_path)
    assert first == dataset_fingerprint(dataset, tmp_path)
    assert first["files"] == 4 and first["listing"][0] == ["a.png", 5]  # image and mask entries
    assert data_differences(first, dataset_fingerprint(dataset, tmp_path)) is None


def test_new_gone_and_resized_files_are_named(tmp_path: Path) -> None:
    before = dataset_fingerprint(_dataset(tmp_path, ["a.png", "b.png", "c.png"], label=True), tmp_path)
    changed = _dataset(tmp_path, ["a.png", "b.png", "d.png"], label=True)
    (tmp_path / "b.png").write_bytes(b"longer now")
    after = dataset_fingerprint(changed, tmp_path)
    words = data_differences(before, after)
    assert words is not None
    assert "1 gone: c.png" in words and "1 new: d.png" in words and "1 resized: b.png" in words


def test_large_datasets_keep_counts_and_hash_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "LISTED_FILES", 1)
    before = dataset_fingerprint(_dataset(tmp_path, ["a.png", "b.png"], label=True), tmp_path)
    assert "listing" not in before
    after = dataset_fingerprint(_dataset(tmp_path, ["a.png"], label=True), tmp_path)
    assert data_differences(before, after) == "2 files of 10 bytes then, 1 of 5 now"


def test_config_differences_skip_the_allowed_fields() -> None:
    saved, now = {"lr": 0.1, "epochs": 2, "seed": 0}, {"lr": 0.2, "epochs": 5, "seed": 0}
    assert list(config_differences(saved, now, ("epochs",))) == ["lr 0.1 -> 0.2"]
