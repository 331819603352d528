"""Tests for efficientvit.data.sample_photos: the licence table of the extra photographs, and writing them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from efficientvit.data import sample_photos
from efficientvit.data.sample_photos import (
    EXTRA_PHOTOS,
    HELD_OUT_PHOTOS,
    MAX_LONG_SIDE,
    PHOTO_SOURCES,
    TRAINING_PHOTOS,
    extra_photo_path,
    load_extra_photo,
    write_extra_photos,
    write_sample_photos,
)
from efficientvit.errors import EfficientViTError

# Licences that permit reuse, modification and redistribution (GPL-compatible artwork licences included).
PERMISSIVE = re.compile(
    r"(public domain|CC0-1\.0|CC-BY-2\.0|CC-BY-4\.0|CC-BY-SA-[34]\.0|GPL-2\+|LGPL-3\.0)( |$)"
)


def _names_of(source: str) -> list[str]:
    return [name for name, photo in EXTRA_PHOTOS.items() if photo.source == source]


def _path_or_none(name: str) -> Path | None:
    try:
        return extra_photo_path(name)
    except EfficientViTError:
        return None


def _no_pip_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample_photos, "_package_dir", lambda module: None)


def test_every_extra_photo_has_a_source_an_author_and_a_permissive_licence() -> None:
    assert 10 <= len(EXTRA_PHOTOS) <= 40
    for name, photo in EXTRA_PHOTOS.items():
        assert photo.source in PHOTO_SOURCES, name
        assert photo.author.strip(), name
        assert PERMISSIVE.match(photo.licence), (name, photo.licence)
        assert photo.path.lower().endswith((".jpg", ".png")), name
        assert Path(photo.path).is_absolute() == (PHOTO_SOURCES[photo.source].kind == "apt"), name
    assert set(PHOTO_SOURCES) == {photo.source for photo in EXTRA_PHOTOS.values()}
    assert all(licence.strip() for licence in {**TRAINING_PHOTOS, **HELD_OUT_PHOTOS}.values())


def test_names_are_unique_file_names_and_no_extra_photo_is_held_out() -> None:
    for name in EXTRA_PHOTOS:
        assert re.fullmatch(r"[a-z0-9_]+", name), name  # the same file on a case-insensitive file system too
    assert not set(EXTRA_PHOTOS) & set(HELD_OUT_PHOTOS)
    assert not set(EXTRA_PHOTOS) & set(TRAINING_PHOTOS)
    files = [(photo.source, photo.path) for photo in EXTRA_PHOTOS.values()]
    assert len(set(files)) == len(files)  # no photograph twice under two names


def test_missing_sources_write_nothing_and_name_every_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_pip_sources(monkeypatch)
    with pytest.raises(EfficientViTError) as error:
        write_extra_photos(tmp_path / "photos", debian_root=tmp_path / "empty")
    message = str(error.value)
    assert "\n" not in message
    assert "pip install scikit-learn matplotlib" in message
    apt = [source for source, kind in PHOTO_SOURCES.items() if kind.kind == "apt"]
    assert f"apt-get install -y {' '.join(apt)}" in message
    assert not (tmp_path / "photos").exists()


def test_one_missing_photo_names_its_package(tmp_path: Path) -> None:
    with pytest.raises(EfficientViTError, match=r"mate-backgrounds .*: apt-get install -y mate-backgrounds$"):
        extra_photo_path("mate_aqua", debian_root=tmp_path)
    with pytest.raises(EfficientViTError, match="unknown photo source nope"):
        write_extra_photos(tmp_path, ["nope"])
    with pytest.raises(EfficientViTError, match="unknown extra photograph nope"):
        extra_photo_path("nope")


def test_writes_a_sources_photos_into_train_as_rgb_png_downscaled(tmp_path: Path) -> None:
    """A Debian package unpacked into ``debian_root`` (here: stand-in files at its paths)."""
    debian_root = tmp_path / "unpacked"
    names = _names_of("mate-backgrounds")
    for i, name in enumerate(names):
        path = debian_root / EXTRA_PHOTOS[name].path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        size, mode = ((2000, 1000), "RGB") if i == 0 else ((40, 30), "L")
        Image.new(mode, size, 128).save(path, quality=95)
    written = write_extra_photos(tmp_path / "photos", ["mate-backgrounds"], debian_root=debian_root)
    assert written == [tmp_path / "photos" / "train" / f"{name}.png" for name in names]
    assert not (tmp_path / "photos" / "val").exists()
    with Image.open(written[0]) as big, Image.open(written[1]) as small:
        assert (big.format, big.mode, big.size) == ("PNG", "RGB", (MAX_LONG_SIDE, MAX_LONG_SIDE // 2))
        assert (small.mode, small.size) == ("RGB", (40, 30))


@pytest.mark.parametrize("source", list(PHOTO_SOURCES))
def test_installed_sources_have_every_listed_photo(source: str) -> None:
    """On a machine with ``source`` installed: every listed file is there and the first one loads."""
    names = _names_of(source)
    if _path_or_none(names[0]) is None:
        pytest.skip(f"{source} is not installed ({PHOTO_SOURCES[source].kind})")
    assert all(extra_photo_path(name).is_file() for name in names)
    image = load_extra_photo(names[0])
    assert image.mode == "RGB" and max(image.size) <= MAX_LONG_SIDE


def test_write_sample_photos_adds_extra_photos_to_train_only(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    if _path_or_none("sklearn_china") is None:
        pytest.skip("scikit-learn is not installed")
    root = write_sample_photos(tmp_path, extra="scikit-learn")
    assert {path.stem for path in (root / "train").glob("*.png")} == {
        *TRAINING_PHOTOS,
        *_names_of("scikit-learn"),
    }
    assert {path.stem for path in (root / "val").glob("*.png")} == set(HELD_OUT_PHOTOS)


def test_a_missing_source_stops_write_sample_photos_before_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("skimage")
    _no_pip_sources(monkeypatch)
    with pytest.raises(EfficientViTError, match=r"pip install matplotlib$"):
        write_sample_photos(tmp_path / "photos", extra=["matplotlib"])
    assert not (tmp_path / "photos").exists()


def test_the_module_does_not_import_torch() -> None:
    code = "import sys, efficientvit.data.sample_photos; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
