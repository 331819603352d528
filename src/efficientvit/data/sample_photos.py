"""Real photographs with permissive licences, from packages that ship them, for the super-resolution model.

* :data:`TRAINING_PHOTOS` and :data:`HELD_OUT_PHOTOS`: public-domain / CC0 photographs from scikit-image's
  bundled sample data (needs scikit-image, a dev dependency: ``pip install scikit-image``). The shipped x2
  model was trained on the nine training photographs; the held-out ones are never used for training.
* :data:`EXTRA_PHOTOS`: 37 more training photographs (camera photographs of natural scenes and objects, no
  renders or digital art), from two PyPI wheels and four Debian 12 packages (:data:`PHOTO_SOURCES`), each
  with its file, author and licence as the package itself states them (a Debian package in
  ``/usr/share/doc/PACKAGE/copyright``). They go into ``root/train`` only, never into ``root/val``.

Installing the sources of the extra photographs (scikit-learn is in the ``dev`` extra, matplotlib in
``bench``)::

    pip install scikit-learn matplotlib
    apt-get install -y mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 \\
        plasma-workspace-wallpapers

and writing ``photos/train`` (9 + 37 photographs) and ``photos/val`` (3)::

    python -c "from efficientvit.data.sample_photos import write_sample_photos as w; w('photos', extra=True)"

Without root, ``apt-get download PACKAGE`` and ``dpkg-deb -x PACKAGE_*.deb DIR`` unpack a package into
``DIR``; ``debian_root=DIR`` then finds its files there. Extra photographs larger than
:data:`MAX_LONG_SIDE` are downscaled (PIL, Lanczos) so that training reads them fast; all are written as
8-bit RGB PNG. Nothing here imports torch.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from efficientvit.errors import EfficientViTError
from efficientvit.extras import require

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "EXTRA_PHOTOS",
    "HELD_OUT_PHOTOS",
    "MAX_LONG_SIDE",
    "PHOTO_SOURCES",
    "TRAINING_PHOTOS",
    "ExtraPhoto",
    "PhotoSource",
    "extra_photo_path",
    "load_extra_photo",
    "write_extra_photos",
    "write_sample_photos",
]

# name in skimage.data: licence, as stated in scikit-image's documentation of each image.
TRAINING_PHOTOS: dict[str, str] = {
    "astronaut": "public domain (NASA)",
    "rocket": "public domain (SpaceX)",
    "hubble_deep_field": "public domain (NASA)",
    "immunohistochemistry": "no known copyright restrictions",
    "retina": "CC0 1.0",
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (CC0Textures)",
    "gravel": "CC0 (CC0Textures)",
    "coins": "no known copyright restrictions",
}
HELD_OUT_PHOTOS: dict[str, str] = {
    "coffee": "CC0 (Rachel Michetti)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "camera": "CC0 (Lav Varshney)",
}

MAX_LONG_SIDE = 1600
"""An extra photograph whose longer side exceeds this many pixels is downscaled to it (aspect kept)."""


@dataclass(frozen=True)
class PhotoSource:
    """A package that ships extra photographs: a PyPI distribution (``kind="pip"``, found through its
    import name ``module``) or a Debian package (``kind="apt"``, whose files are absolute paths)."""

    kind: Literal["pip", "apt"]
    module: str = ""


PHOTO_SOURCES: dict[str, PhotoSource] = {
    "scikit-learn": PhotoSource("pip", "sklearn"),
    "matplotlib": PhotoSource("pip", "matplotlib"),
    "mate-backgrounds": PhotoSource("apt"),
    "lomiri-wallpapers-16.04": PhotoSource("apt"),
    "lomiri-wallpapers-20.04": PhotoSource("apt"),
    "plasma-workspace-wallpapers": PhotoSource("apt"),
}
"""Package name (as ``pip install`` / ``apt-get install`` take it) -> how its files are found. The versions
checked: scikit-learn 1.9.1, matplotlib 3.11.2, and Debian 12's mate-backgrounds 1.26.0-1,
lomiri-wallpapers-16.04 / -20.04 20.04.0-2 and plasma-workspace-wallpapers 4:5.27.5-2."""


@dataclass(frozen=True)
class ExtraPhoto:
    """One extra training photograph: its ``source`` (a key of :data:`PHOTO_SOURCES`), ``path`` (inside
    the installed Python package's folder for a pip source, absolute for a Debian one), ``author`` and
    ``licence`` as the source states them."""

    source: str
    path: str
    author: str
    licence: str


def _sklearn(file: str, author: str) -> ExtraPhoto:
    # sklearn/datasets/images/README.txt: "Released under a creative commons license",
    # https://creativecommons.org/licenses/by/2.0/, retrieved from Flickr by Robert Layton.
    return ExtraPhoto("scikit-learn", f"datasets/images/{file}", author, "CC-BY-2.0")


def _mate(file: str, author: str) -> ExtraPhoto:
    # /usr/share/doc/mate-backgrounds/copyright: every nature/*.jpg is GPL-2+.
    return ExtraPhoto("mate-backgrounds", f"/usr/share/backgrounds/mate/nature/{file}", author, "GPL-2+")


def _lomiri(release: str, file: str, author: str, licence: str) -> ExtraPhoto:
    # /usr/share/doc/lomiri-wallpapers-{16.04,20.04}/copyright (one file for both), per photograph.
    return ExtraPhoto(f"lomiri-wallpapers-{release}", f"/usr/share/backgrounds/{file}", author, licence)


def _plasma(folder: str, author: str) -> ExtraPhoto:
    # Author and licence ("LGPLv3") from /usr/share/wallpapers/FOLDER/metadata.json; Debian's copyright file
    # (/usr/share/doc/plasma-workspace-wallpapers/copyright) says GPL-2+ (KDE Visual Design Group) for all.
    # The largest size the package ships (2560x1600) is the one read.
    path = f"/usr/share/wallpapers/{folder}/contents/images/2560x1600.jpg"
    return ExtraPhoto(
        "plasma-workspace-wallpapers", path, author, "LGPL-3.0 (metadata.json); GPL-2+ (Debian)"
    )


# Every photograph of these packages that is a camera photograph, looked at one by one, except three that
# have almost no fine detail to learn from (an x2 bicubic round trip, down then up, at the written size
# gave back their luma to more than 48 dB PSNR): MATE's FreshFlower and Storm, Plasma's DarkestHour.
# Left out as digital art or renders: MATE's Elephants and GreenTraditional, Lomiri's analogpattern (a
# texture under a colour wash), umang, Fossa, Infinite-Sea and Painting-Colors, the other Plasma
# wallpapers, and all of gnome-backgrounds 43, ukui-wallpapers, sway-backgrounds and desktop-base.
EXTRA_PHOTOS: dict[str, ExtraPhoto] = {
    "sklearn_china": _sklearn("china.jpg", "danielbuechele (Flickr)"),
    # The README credits danielbuechele but links the Flickr user vultilion for this one.
    "sklearn_flower": _sklearn("flower.jpg", "danielbuechele / vultilion (Flickr)"),
    # A U.S. Navy photograph: public domain as a work of the U.S. federal government. The wheel states no
    # licence; matplotlib added it (pull request 1599, replacing Lena) as a public-domain image.
    "mpl_grace_hopper": ExtraPhoto(
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "U.S. Navy",
        "public domain (U.S. Navy photograph)",
    ),
    "mate_aqua": _mate("Aqua.jpg", "Charles Barbin (2008)"),
    "mate_blinds": _mate("Blinds.jpg", "Lennart Poettering, Andrea Cimitan (2008)"),
    "mate_dune": _mate("Dune.jpg", "Marco Cogoni (2007), Hylke Bons (2008)"),
    "mate_garden": _mate("Garden.jpg", "Charles Barbin (2008)"),
    "mate_green_meadow": _mate("GreenMeadow.jpg", "Timothy Schellhase (2005), Lapo Calamandrei (2008)"),
    "mate_lady_bird": _mate("LadyBird.jpg", "Charles Barbin (2008)"),
    "mate_rain_drops": _mate("RainDrops.jpg", '"blackcombwhistler07" (2008)'),
    "mate_two_wings": _mate("TwoWings.jpg", "Charles Barbin, Hylke Bons (2008)"),
    "mate_wood": _mate("Wood.jpg", "Jean-François Fortin Tam (2008)"),
    "mate_yellow_flower": _mate("YellowFlower.jpg", "Charles Barbin (2008)"),
    "lomiri_bridge": _lomiri(
        "16.04", "Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk (2018)", "CC-BY-SA-4.0"
    ),
    "lomiri_dragonfly": _lomiri("16.04", "Dragonfly_by_Bolly.jpg", '"Bolly" (2018)', "CC-BY-SA-4.0"),
    "lomiri_fig": _lomiri("16.04", "Picture_0B_by_freespace.jpg", 'Trevor "Freespace" (2018)', "CC-BY-4.0"),
    "lomiri_brushes": _lomiri(
        "16.04", "Picture_1A_by_freespace.jpg", 'Trevor "Freespace" (2018)', "CC-BY-4.0"
    ),
    "lomiri_wine": _lomiri("16.04", "Wine_by_Jakkub_Mede.jpg", "Jakub Mede (2018)", "CC-BY-4.0"),
    "lomiri_aitzgorri": _lomiri(
        "16.04", "aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi (2018)", "CC-BY-4.0"
    ),
    "lomiri_free": _lomiri("16.04", "free_by_Peter_Nerlich.jpg", "Peter Nerlich (2018)", "CC-BY-SA-4.0"),
    "lomiri_friends": _lomiri(
        "16.04", "friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi (2018)", "CC-BY-4.0"
    ),
    "lomiri_greentock": _lomiri(
        "16.04", "greentock_by_Peter_Nerlich.jpg", "Peter Nerlich (2018)", "CC-BY-SA-4.0"
    ),
    "lomiri_life": _lomiri("16.04", "life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi (2018)", "CC-BY-4.0"),
    "lomiri_picos_de_europa": _lomiri(
        "16.04", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi (2018)", "CC-BY-4.0"
    ),
    "lomiri_seeding": _lomiri(
        "16.04", "seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt (2018)", "CC0-1.0"
    ),
    "lomiri_sunset": _lomiri(
        "16.04", "sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi (2018)", "CC-BY-4.0"
    ),
    "lomiri_kleiber": _lomiri(
        "20.04", "Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus (2021)", "CC-BY-SA-3.0"
    ),
    "plasma_by_the_water": _plasma("BytheWater", "Maciej Wiklo"),
    "plasma_cold_ripple": _plasma("ColdRipple", "Risto Saukonpää"),
    "plasma_colorful_cups": _plasma("ColorfulCups", "Dmitri Popov"),
    "plasma_evening_glow": _plasma("EveningGlow", "Ian Hex"),
    "plasma_fallen_leaf": _plasma("FallenLeaf", "Martin Klapetek"),
    "plasma_grey": _plasma("Grey", "Sigi Sagi"),
    "plasma_kite": _plasma("Kite", "Risto Saukonpää"),
    "plasma_one_stands_out": _plasma("OneStandsOut", "Risto Saukonpää"),
    "plasma_path": _plasma("Path", "Risto Saukonpää"),
    "plasma_summer_1am": _plasma("summer_1am", "Risto Saukonpää"),
}
"""Name of the written PNG (without ``.png``) -> where the photograph comes from, who made it, its licence."""


def _save(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def _package_dir(module: str) -> Path | None:
    """The folder of the installed Python package ``module``, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _located(photo: ExtraPhoto, debian_root: str | os.PathLike[str]) -> Path | None:
    source = PHOTO_SOURCES[photo.source]
    if source.kind == "apt":
        return Path(debian_root) / photo.path.lstrip("/")
    folder = _package_dir(source.module)
    return None if folder is None else folder / photo.path


def _missing_error(missing: dict[str, Path | None]) -> EfficientViTError:
    """The one-line error for sources whose files were not found (source -> the path looked for)."""
    where = "; ".join(
        f"{source} (no {path})" if path is not None else f"{source} (not installed)"
        for source, path in missing.items()
    )
    pip = [source for source in missing if PHOTO_SOURCES[source].kind == "pip"]
    apt = [source for source in missing if PHOTO_SOURCES[source].kind == "apt"]
    fixes = ([f"pip install {' '.join(pip)}"] if pip else []) + (
        [f"apt-get install -y {' '.join(apt)}"] if apt else []
    )
    return EfficientViTError(f"the extra sample photographs need {where}: {' && '.join(fixes)}")


def _unknown(names: Iterable[str], known: Iterable[str], what: str) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise EfficientViTError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def extra_photo_path(name: str, debian_root: str | os.PathLike[str] = "/") -> Path:
    """The file of the extra photograph ``name`` (a key of :data:`EXTRA_PHOTOS`) as installed; a Debian
    package's files are looked for under ``debian_root``. Raises :class:`EfficientViTError` naming the
    ``pip install`` / ``apt-get install`` that provides it when it is not there."""
    _unknown([name], EXTRA_PHOTOS, "extra photograph")
    photo = EXTRA_PHOTOS[name]
    path = _located(photo, debian_root)
    if path is None or not path.is_file():
        raise _missing_error({photo.source: path})
    return path


def load_extra_photo(name: str, debian_root: str | os.PathLike[str] = "/") -> Image.Image:
    """The extra photograph ``name`` as an RGB PIL image, turned upright by its EXIF orientation and
    downscaled with Lanczos so that its longer side is at most :data:`MAX_LONG_SIDE`."""
    from PIL import Image, ImageOps

    with Image.open(extra_photo_path(name, debian_root)) as file:
        image = ImageOps.exif_transpose(file).convert("RGB")
    width, height = image.size
    if max(width, height) > MAX_LONG_SIDE:
        ratio = MAX_LONG_SIDE / max(width, height)
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _checked_names(sources: Iterable[str] | None, debian_root: str | os.PathLike[str]) -> list[str]:
    """The names of the extra photographs of ``sources`` (all when ``None``), each file looked for first:
    raises the :class:`EfficientViTError` that names every missing source and the commands that install
    them."""
    sources = list(PHOTO_SOURCES) if sources is None else list(dict.fromkeys(sources))
    _unknown(sources, PHOTO_SOURCES, "photo source")
    names = [name for name, photo in EXTRA_PHOTOS.items() if photo.source in sources]
    missing: dict[str, Path | None] = {}
    for name in names:
        photo = EXTRA_PHOTOS[name]
        path = _located(photo, debian_root)
        if photo.source not in missing and (path is None or not path.is_file()):
            missing[photo.source] = path
    if missing:
        raise _missing_error(missing)
    return names


def _write_extra(names: list[str], root: Path, debian_root: str | os.PathLike[str]) -> list[Path]:
    train = root / "train"
    train.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = train / f"{name}.png"
        load_extra_photo(name, debian_root).save(path)
        written.append(path)
    return written


def write_extra_photos(
    root: str | os.PathLike[str],
    sources: Iterable[str] | None = None,
    *,
    debian_root: str | os.PathLike[str] = "/",
) -> list[Path]:
    """Write the :data:`EXTRA_PHOTOS` of ``sources`` (keys of :data:`PHOTO_SOURCES`; all by default) as
    ``root/train/NAME.png`` and return their paths. Every file is looked for first, so that a missing source
    writes nothing: the :class:`EfficientViTError` names all missing sources and the commands that install
    them. Debian packages' files are looked for under ``debian_root``."""
    return _write_extra(_checked_names(sources, debian_root), Path(root), debian_root)


def write_sample_photos(
    root: str | os.PathLike[str],
    extra: bool | str | Iterable[str] = False,
    *,
    debian_root: str | os.PathLike[str] = "/",
) -> Path:
    """Write ``root/train/*.png`` (training) and ``root/val/*.png`` (held-out photos); return ``root``.

    ``extra=True`` also writes every one of :data:`EXTRA_PHOTOS` into ``root/train``, and a list of
    :data:`PHOTO_SOURCES` keys (or one key) those sources' photographs, as :func:`write_extra_photos` does
    (all their files are looked for before anything is written)."""
    skimage_data = require("skimage.data", "writing the sample photographs")
    extra_names: list[str] = []
    if extra is not False:
        sources = None if extra is True else [extra] if isinstance(extra, str) else list(extra)
        extra_names = _checked_names(sources, debian_root)
    root = Path(root)
    for split, names in (("train", TRAINING_PHOTOS), ("val", HELD_OUT_PHOTOS)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for name in names:
            _save(getattr(skimage_data, name)(), root / split / f"{name}.png")
    _write_extra(extra_names, root, debian_root)
    return root
