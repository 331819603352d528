"""Optional extras: which package each optional feature needs, and the one-line error that names the extra.

``pip install efficientvit`` alone classifies, segments, upscales and runs SAM with prompts (torch,
torchvision, segment-anything and a few small packages). Heavier packages come with extras, as in
``pyproject.toml``:

* ``[onnx]``: onnx, onnxscript, onnxruntime (ONNX export, the ``onnxruntime`` backend, the fastest CPU path
  that ``backend="auto"`` takes when they are installed);
* ``[sam-eval]``: pycocotools, scipy (COCO datasets and SAM evaluation, automatic masks as COCO RLE);
* ``[bench]``: transformers, matplotlib, timm, efficientsam (the peers of ``efficientvit bench``, its plots).

Every place that imports one of them goes through :func:`require` (or raises :func:`missing_extra`), so a
missing package is one line such as ``ONNX export needs onnx: pip install 'efficientvit[onnx]'``.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from efficientvit.errors import EfficientViTError

__all__ = ["EXTRAS", "available", "install_command", "missing_extra", "require", "require_extra"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxscript", "onnxruntime"),
    "sam-eval": ("pycocotools", "scipy"),
    "bench": ("transformers", "matplotlib", "timm", "efficientsam"),
}
"""Extra -> the modules it provides (each the import name of one distribution in ``pyproject.toml``'s
optional dependencies; a test checks that the two agree)."""

_DISTRIBUTIONS = {"cv2": "opencv-python-headless", "skimage": "scikit-image"}
"""Import names whose distribution is called otherwise (what ``pip install`` wants)."""


def _top(module: str) -> str:
    return module.partition(".")[0]


def install_command(extra: str | None, package: str = "") -> str:
    """``pip install 'efficientvit[extra]'``, or for a package in no extra ``pip install package``."""
    return f"pip install 'efficientvit[{extra}]'" if extra else f"pip install {package}"


def missing_extra(
    feature: str, package: str, extra: str | None = None, reason: str = ""
) -> EfficientViTError:
    """The one-line error for ``feature`` when ``package`` is not installed: it names the extra that
    installs it (or, for a package in no extra, the package itself)."""
    because = f", which failed to import ({reason})" if reason else ""
    return EfficientViTError(f"{feature} needs {package}{because}: {install_command(extra, package)}")


def _extra_of(module: str) -> str | None:
    return next((extra for extra, modules in EXTRAS.items() if _top(module) in modules), None)


def require(module: str, feature: str, extra: str | None = None) -> ModuleType:
    """``import module`` for ``feature``, or raise :func:`missing_extra` if it (or a package it needs) is
    missing; ``extra`` defaults to the extra that provides ``module``."""
    extra = extra if extra is not None else _extra_of(module)
    package = _DISTRIBUTIONS.get(_top(module), _top(module))
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = _top(error.name or "")
        if missing == _top(module) or (extra is not None and missing in EXTRAS.get(extra, ())):
            raise missing_extra(feature, _DISTRIBUTIONS.get(missing, missing), extra) from None
        reason = " ".join(str(error).split())
        raise missing_extra(feature, package, extra, reason=reason) from None


def require_extra(extra: str, feature: str) -> None:
    """Raise :func:`missing_extra` for the first package of ``extra`` that is not installed (looked up, not
    imported: a check before slow work)."""
    for module in EXTRAS[extra]:
        if not available(module):
            raise missing_extra(feature, _DISTRIBUTIONS.get(module, module), extra)


def available(*modules: str) -> bool:
    """Whether every one of ``modules`` can be imported (looked up, not imported)."""
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):  # a parent missing, or a module set to None in sys.modules
            return False
    return True
