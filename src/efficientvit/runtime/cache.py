"""The on-disk cache of exported models, keyed by content.

An entry is a folder ``<cache>/<name>-<digest>/`` holding the exported files and ``manifest.json``, which
records the key it was built for and the size and SHA-256 of every file. The digest is the hash of the key:
the weights' content digest, the model's config, the graph and its shape policy, and the versions of this
package, torch, onnx and onnxruntime. Nothing about the checkpoint file (path, size, modification time)
enters it, so a replaced checkpoint can never be served the old export.

* Written atomically: the entry is built in a scratch folder beside it and renamed into place whole, so a
  concurrent first run sees a complete entry or none; if two runs build the same entry, the second
  rename fails and that run uses the first one's.
* Checked on every open: a missing manifest, a missing file, or a size or checksum mismatch (a truncated
  or corrupted file) removes the entry with a one-line notice on stderr and builds it again.
* Location: ``$EFFICIENTVIT_CACHE`` if set, else ``$XDG_CACHE_HOME/efficientvit`` (``~/.cache/...``),
  falling back to the system temp folder where that is not writable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from efficientvit.errors import EfficientViTError

__all__ = ["MANIFEST", "cache_root", "cached_entry", "entry_digest"]

MANIFEST = "manifest.json"
_CHUNK = 1 << 22


def cache_root() -> Path:
    """The cache's base folder (see the module docstring); not created here."""
    explicit = os.environ.get("EFFICIENTVIT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "efficientvit"


def entry_digest(key: dict[str, Any]) -> str:
    """The first 20 hex digits of the SHA-256 of ``key`` as canonical JSON."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _problem(entry: Path, key: dict[str, Any]) -> str | None:
    """Why the entry ``entry`` cannot be used (None if it is complete and intact)."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        files: dict[str, dict[str, Any]] = manifest["files"]
        recorded_key = manifest["key"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable manifest ({type(error).__name__})"
    if recorded_key != key:
        return "its manifest records another key"
    for name, expected in files.items():
        path = entry / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected.get("bytes"):
            return f"{name} has {size} bytes, not {expected.get('bytes')} (truncated or replaced)"
        if _file_sha256(path) != expected.get("sha256"):
            return f"{name} does not match its checksum (corrupted)"
    return None


def remove_entry(entry: Path, reason: str) -> None:
    """Delete a broken entry, saying so on stderr; a concurrent run that already removed it is fine."""
    print(f"efficientvit: cache entry {entry} is unusable ({reason}); rebuilding it", file=sys.stderr)
    trash = entry.with_name(f".trash-{entry.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(entry, trash)  # atomic: no run sees a half-deleted entry
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def cached_entry(
    name: str,
    key: dict[str, Any],
    build: Callable[[Path], None],
    *,
    announce: str,
    kind: str = "onnx",
) -> Path:
    """The folder of the intact cache entry ``name`` for ``key``, built by ``build(folder)`` if needed.

    ``build`` writes the entry's files into the (empty, scratch) folder it is given; ``announce`` is printed
    on stderr before a build (with the entry's path appended). Returns the entry folder.
    """
    digest = entry_digest(key)
    entry_name = f"{name}-{digest}"
    roots = [cache_root() / kind, Path(tempfile.gettempdir()) / f"efficientvit-cache-{os.getuid()}" / kind]
    for root in roots:
        entry = root / entry_name
        if entry.is_dir():
            problem = _problem(entry, key)
            if problem is None:
                return entry
            remove_entry(entry, problem)
    root = next((r for r in roots if _writable(r)), None)
    if root is None:
        raise EfficientViTError(
            f"cannot write the export cache in {roots[0]} nor {roots[1]}: set EFFICIENTVIT_CACHE to a "
            "writable folder, or pass backend='eager' / --backend eager"
        )
    entry = root / entry_name
    print(f"{announce} (once: cached in {entry})", file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=f".build-{entry_name}-"))
    try:
        build(scratch)
        files = {
            path.name: {"bytes": path.stat().st_size, "sha256": _file_sha256(path)}
            for path in sorted(scratch.iterdir())
            if path.is_file()
        }
        if not files:
            raise EfficientViTError(f"building the cache entry {entry_name} wrote no file")
        manifest = {"key": key, "files": files}
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        try:
            os.rename(scratch, entry)  # atomic; fails if a concurrent run renamed its entry first
        except OSError:
            if not entry.is_dir() or _problem(entry, key) is not None:
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return entry
