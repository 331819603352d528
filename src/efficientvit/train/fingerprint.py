"""What a resumed run checks before it continues: that the data and the recipe are the ones it was saved with.

A dataset's fingerprint is its file list with each file's size: the number of files, their total size, and a
SHA-256 of the sorted ``(path, size)`` list. It is saved in ``last.pt``; resuming with a dataset that grew,
shrank or changed names the difference (and, for datasets of up to :data:`LISTED_FILES` files, the files).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

__all__ = ["LISTED_FILES", "config_differences", "data_differences", "dataset_fingerprint"]

LISTED_FILES = 20_000
"""Up to this many files a fingerprint keeps the list itself, so that a difference names the files."""
_NAMED = 3


def _files(dataset: Dataset) -> list[Path] | None:
    """The files behind ``dataset`` (through wrappers such as ``RepeatedDataset``); None if it has none."""
    while not hasattr(dataset, "samples") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    samples = getattr(dataset, "samples", None)
    if samples is None:
        return None
    files: list[Path] = []
    for sample in samples:
        items = sample if isinstance(sample, (tuple, list)) else (sample,)
        files.extend(Path(item) for item in items if isinstance(item, (str, os.PathLike)))
    return files


def dataset_fingerprint(dataset: Dataset, root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{"files", "bytes", "sha256"[, "listing"]}`` of ``dataset``'s files, paths relative to ``root``."""
    files = _files(dataset)
    if files is None:
        return None
    listing = sorted((_relative(path, root), _size(path)) for path in files)
    digest = hashlib.sha256()
    for name, size in listing:
        digest.update(f"{name}\0{size}\n".encode())
    fingerprint: dict[str, Any] = {
        "files": len(listing),
        "bytes": sum(size for _, size in listing),
        "sha256": digest.hexdigest(),
    }
    if len(listing) <= LISTED_FILES:
        fingerprint["listing"] = [list(entry) for entry in listing]
    return fingerprint


def _relative(path: Path, root: str | os.PathLike[str]) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1  # gone: counted as a change


def data_differences(saved: dict[str, Any] | None, now: dict[str, Any] | None) -> str | None:
    """How the data changed between two fingerprints, in words; None if it did not (or was not recorded)."""
    if saved is None or now is None or saved["sha256"] == now["sha256"]:
        return None
    words = f"{saved['files']} files of {saved['bytes']:,} bytes then, {now['files']} of {now['bytes']:,} now"
    if "listing" in saved and "listing" in now:
        before, after = dict(map(tuple, saved["listing"])), dict(map(tuple, now["listing"]))
        parts = [
            _some(label, names)
            for label, names in (
                ("gone", [n for n in before if n not in after]),
                ("new", [n for n in after if n not in before]),
                ("resized", [n for n in before if n in after and before[n] != after[n]]),
            )
            if names
        ]
        words += f" ({'; '.join(parts)})"
    return words


def _some(label: str, names: list[str]) -> str:
    shown = ", ".join(names[:_NAMED]) + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
    return f"{len(names)} {label}: {shown}"


def config_differences(saved: dict[str, Any], now: dict[str, Any], allowed: tuple[str, ...]) -> Iterator[str]:
    """``field saved -> now`` for each field that differs between two configs, except those in ``allowed``."""
    for name in sorted(set(saved) | set(now)):
        if name not in allowed and saved.get(name) != now.get(name):
            yield f"{name} {saved.get(name)!r} -> {now.get(name)!r}"
