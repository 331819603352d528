"""The model registry: every official EfficientViT name mapped to its architecture and weights metadata.

``create_model(name, weights=None, **overrides)`` builds any of them; ``list_models(pattern)`` lists them.
Names follow the official zoo (``efficientvit-b1-r224``, ``efficientvit-seg-l2-cityscapes``). The
super-resolution models (``efficientvit-sr-full-x2``) are our own design, not official: see
``ModelInfo.official``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torch import nn

from efficientvit.data.labels import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SEGMENTATION_LABELS,
    dataset_class_count,
    dataset_classes,
)
from efficientvit.errors import EfficientViTError
from efficientvit.files import not_regular_message, special_kind
from efficientvit.models import (
    BACKBONES,
    BackboneConfig,
    ClsHeadConfig,
    LargeBackboneConfig,
    SegHeadConfig,
)
from efficientvit.models.sam import SamNeckConfig
from efficientvit.models.super_resolution import SR_CONFIGS, SuperResolutionConfig
from efficientvit.tasks.registry import TaskName, get_task

Dataset = Literal["imagenet", "cityscapes", "ade20k", "sa-1b", "div2k"]

CLS_HUB_REPO = "han-cai/efficientvit-cls"
SEG_HUB_REPO = "han-cai/efficientvit-seg"
SAM_HUB_REPO = "mit-han-lab/efficientvit-sam"
# segment-anything's pixel statistics (0-255 scale in SAM, given here for images scaled to [0, 1]).
SAM_MEAN = (123.675 / 255, 116.28 / 255, 103.53 / 255)
SAM_STD = (58.395 / 255, 57.12 / 255, 57.375 / 255)


@dataclass(frozen=True)
class HubFile:
    """A checkpoint on the Hugging Face hub."""

    repo_id: str
    filename: str

    def __str__(self) -> str:
        return f"hf://{self.repo_id}/{self.filename}"


ASSETS = Path(__file__).parent / "assets"


@dataclass(frozen=True)
class PackagedFile:
    """A checkpoint shipped inside the package (``efficientvit/assets/``): works offline, no download."""

    filename: str

    @property
    def path(self) -> Path:
        return ASSETS / self.filename

    def __str__(self) -> str:
        return f"package://efficientvit/assets/{self.filename}"


Checkpoint = HubFile | PackagedFile
Palette = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class ModelInfo:
    """Everything the registry knows about one model name."""

    name: str
    task: TaskName
    dataset: Dataset
    backbone: BackboneConfig | LargeBackboneConfig | SuperResolutionConfig
    """The backbone; for super-resolution the whole model's config."""
    head: ClsHeadConfig | SegHeadConfig | SamNeckConfig | None
    """The task part: classification head, segmentation head, or SAM neck (None for super-resolution)."""
    resolution: tuple[int, int]
    """(height, width) of the paper's measurements and the checkpoint's training/evaluation; for
    super-resolution the low-resolution input size of the usual cost measurement (a 1280x720 output)."""
    checkpoint: Checkpoint | None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop_ratio: float | None = None
    """Classification: resize to ``resolution / crop_ratio`` (bicubic), then centre-crop ``resolution``."""
    official: bool = True
    """An architecture of the official EfficientViT release (False: our own design, e.g. super-resolution)."""
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)
    """The config overrides given to :func:`create_model` (e.g. ``{"num_classes": 10}``); empty for the
    registry's own entries."""
    labels: tuple[str, ...] | None = None
    """The class names of a fine-tuned model, in label order; None: those of ``dataset`` (see
    :attr:`class_names`)."""
    palette: Palette | None = None
    """One RGB colour per class of a segmenter (None for the other tasks)."""

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for SAM, which segments without classes)."""
        return getattr(self.head, "num_classes", 0)

    @property
    def scale(self) -> int:
        """The upscaling factor of a super-resolution model (1 for the other tasks)."""
        return getattr(self.backbone, "scale", 1)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in label order: ``labels`` when set, else the dataset's when their number is the
        model's (empty for SAM, super-resolution and a new class count without names)."""
        if self.labels is not None:
            return self.labels
        if self.num_classes == 0 or self.num_classes != dataset_class_count(self.dataset):
            return ()
        return dataset_classes(self.dataset)  # ImageNet's are read lazily (torchvision)


CLS_CROP_RATIO = 0.95
"""The official evaluation's centre crop of ImageNet classifiers: resize to ``resolution / 0.95``."""

CLS_HEADS = {
    "b0": ClsHeadConfig(widths=(1024, 1280)),
    "b1": ClsHeadConfig(widths=(1536, 1600)),
    "b2": ClsHeadConfig(widths=(2304, 2560)),
    "b3": ClsHeadConfig(widths=(2304, 2560)),
    "l1": ClsHeadConfig(widths=(3072, 3200)),
    "l2": ClsHeadConfig(widths=(3072, 3200)),
    "l3": ClsHeadConfig(widths=(6144, 6400)),
}
CLS_RESOLUTIONS = {
    "b0": (224,),
    "b1": (224, 256, 288),
    "b2": (224, 256, 288),
    "b3": (224, 256, 288),
    "l1": (224,),
    "l2": (224, 256, 288, 320, 384),
    "l3": (224, 256, 288, 320, 384),
}


def _seg(
    dataset: Dataset, width: int, depth: int, expand: float, block: str, final_expand: int | None
) -> SegHeadConfig:
    """A segmentation head config in one table row, with a class for each of ``dataset``'s labels."""
    return SegHeadConfig(
        width=width,
        depth=depth,
        expand_ratio=expand,
        block=block,
        final_expand=final_expand,
        num_classes=dataset_class_count(dataset),
    )


_SEG_ROWS: dict[tuple[str, Dataset], tuple[int, int, float, str, int | None]] = {
    # (size, dataset): (width, depth, expand_ratio, block, final_expand)
    ("b0", "cityscapes"): (32, 1, 4, "mb", 4),
    ("b1", "cityscapes"): (64, 3, 4, "mb", 4),
    ("b2", "cityscapes"): (96, 3, 4, "mb", 4),
    ("b3", "cityscapes"): (128, 3, 4, "mb", 4),
    ("l1", "cityscapes"): (256, 3, 1, "fused_mb", None),
    ("l2", "cityscapes"): (256, 5, 1, "fused_mb", None),
    ("b1", "ade20k"): (64, 3, 4, "mb", None),
    ("b2", "ade20k"): (96, 3, 4, "mb", None),
    ("b3", "ade20k"): (128, 3, 4, "mb", None),
    ("l1", "ade20k"): (128, 3, 4, "fused_mb", 8),
    ("l2", "ade20k"): (128, 3, 4, "fused_mb", 8),
}
SEG_HEADS: dict[tuple[str, Dataset], SegHeadConfig] = {
    (size, dataset): _seg(dataset, *row) for (size, dataset), row in _SEG_ROWS.items()
}
SEG_RESOLUTIONS: dict[Dataset, tuple[int, int]] = {"cityscapes": (1024, 2048), "ade20k": (512, 512)}

SAM_NORM_EPS = 1e-6
_L_NECK = SamNeckConfig(in_stages=("stage4", "stage3", "stage2"), depth=4, expand_ratio=1)
_XL_NECK = SamNeckConfig(in_stages=("stage5", "stage4", "stage3"), depth=6, expand_ratio=4)
SAM_MODELS: dict[str, tuple[str, SamNeckConfig, int]] = {
    # name suffix: (backbone, neck, input resolution)
    "l0": ("l0", _L_NECK, 512),
    "l1": ("l1", dataclasses.replace(_L_NECK, depth=8), 512),
    "l2": ("l2", dataclasses.replace(_L_NECK, depth=12), 512),
    "xl0": ("xl0", _XL_NECK, 1024),
    "xl1": ("xl1", dataclasses.replace(_XL_NECK, depth=12), 1024),
}

SR_SCALES = (2, 3, 4)
SR_OUTPUT = (720, 1280)
"""Lightweight SR papers count MACs for a 1280x720 output; ``resolution`` is the input giving it."""


SR_SHIPPED: dict[str, PackagedFile] = {
    # Trained on this project's CPU from licensed photographs (efficientvit.data.sample_photos records each
    # one's source and licence): see README, "Super-resolution".
    "efficientvit-sr-full-x2": PackagedFile("efficientvit_sr_full_x2.safetensors"),
    "efficientvit-sr-full-x4": PackagedFile("efficientvit_sr_full_x4.safetensors"),
}


def _build_registry() -> dict[str, ModelInfo]:
    registry: dict[str, ModelInfo] = {}
    for size, head in CLS_HEADS.items():
        common = {
            "task": "cls",
            "dataset": "imagenet",
            "backbone": BACKBONES[size],
            "head": head,
            "crop_ratio": CLS_CROP_RATIO,
        }
        registry[f"efficientvit-{size}"] = ModelInfo(
            name=f"efficientvit-{size}", resolution=(224, 224), checkpoint=None, **common
        )
        for r in CLS_RESOLUTIONS[size]:
            name = f"efficientvit-{size}-r{r}"
            hub = HubFile(CLS_HUB_REPO, f"efficientvit_{size}_r{r}.pt")
            registry[name] = ModelInfo(name=name, resolution=(r, r), checkpoint=hub, **common)
    for (size, dataset), head in SEG_HEADS.items():
        name = f"efficientvit-seg-{size}-{dataset}"
        registry[name] = ModelInfo(
            name=name,
            task="seg",
            dataset=dataset,
            backbone=BACKBONES[size],
            head=head,
            resolution=SEG_RESOLUTIONS[dataset],
            checkpoint=HubFile(SEG_HUB_REPO, f"efficientvit_seg_{size}_{dataset}.pt"),
            palette=SEGMENTATION_LABELS[dataset][1],
        )
    for size, (backbone, neck, resolution) in SAM_MODELS.items():
        name = f"efficientvit-sam-{size}"
        registry[name] = ModelInfo(
            name=name,
            task="sam",
            dataset="sa-1b",
            backbone=dataclasses.replace(BACKBONES[backbone], norm_eps=SAM_NORM_EPS),
            head=neck,
            resolution=(resolution, resolution),
            checkpoint=HubFile(SAM_HUB_REPO, f"efficientvit_sam_{size}.pt"),
            mean=SAM_MEAN,
            std=SAM_STD,
        )
    for size, config in SR_CONFIGS.items():
        for scale in SR_SCALES:
            name = f"efficientvit-sr-{size}-x{scale}"
            registry[name] = ModelInfo(
                name=name,
                task="sr",
                dataset="div2k",
                backbone=dataclasses.replace(config, scale=scale),
                head=None,
                resolution=(round(SR_OUTPUT[0] / scale), round(SR_OUTPUT[1] / scale)),
                checkpoint=SR_SHIPPED.get(name),
                mean=(0.0, 0.0, 0.0),
                std=(1.0, 1.0, 1.0),
                official=False,
            )
    return dict(sorted(registry.items()))


REGISTRY: dict[str, ModelInfo] = _build_registry()


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (``"efficientvit-seg-*"``), sorted."""
    return [name for name in REGISTRY if fnmatch.fnmatchcase(name, pattern)]


def get_model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``; an unknown name raises an error that suggests close matches."""
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `efficientvit models` lists them"
        raise EfficientViTError(f"unknown model {name!r}{hint}") from None


def override_names(info: ModelInfo, per_part: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"backbone": {field: value}, "head": {...}}`` as :func:`create_model` takes and records overrides: a
    field's bare name, or ``backbone_<name>`` / ``head_<name>`` for a name that both configs have."""
    backbone_fields = {f.name for f in dataclasses.fields(info.backbone)}
    head_fields = {f.name for f in dataclasses.fields(info.head)} if info.head is not None else set()
    shared = backbone_fields & head_fields
    return {
        (f"{part}_{key}" if key in shared else key): value
        for part, fields in per_part.items()
        for key, value in fields.items()
    }


def _apply_overrides(info: ModelInfo, overrides: dict[str, Any]) -> ModelInfo:
    """Route each override to the backbone or head config field of that name. A name that is a field of
    both (``expand_ratio`` of B-family segmenters, ``widths`` of classifiers) must say which part it is for,
    as ``backbone_<name>`` or ``head_<name>``; unknown and ambiguous names raise."""
    backbone_fields = {f.name for f in dataclasses.fields(info.backbone)}
    head_fields = {f.name for f in dataclasses.fields(info.head)} if info.head is not None else set()
    parts: dict[str, dict[str, Any]] = {"backbone": {}, "head": {}}
    unknown, ambiguous = [], []
    for key, value in overrides.items():
        if key in backbone_fields and key in head_fields:
            ambiguous.append(key)
        elif key in backbone_fields or key in head_fields:
            parts["backbone" if key in backbone_fields else "head"][key] = value
        elif key.startswith("backbone_") and key.removeprefix("backbone_") in backbone_fields:
            parts["backbone"][key.removeprefix("backbone_")] = value
        elif key.startswith("head_") and key.removeprefix("head_") in head_fields:
            parts["head"][key.removeprefix("head_")] = value
        else:
            unknown.append(key)
    if ambiguous:
        spelled = ", ".join(f"backbone_{key}= or head_{key}=" for key in ambiguous)
        raise TypeError(
            f"create_model({info.name!r}): {ambiguous} name fields of both the backbone and the head config; "
            f"say which part each is for: {spelled}"
        )
    if unknown:
        raise TypeError(
            f"create_model({info.name!r}) got unknown override(s) {sorted(unknown)}; "
            f"valid: {sorted(backbone_fields | head_fields)}"
        )
    backbone = dataclasses.replace(info.backbone, **parts["backbone"])
    head = dataclasses.replace(info.head, **parts["head"]) if info.head is not None else None
    return dataclasses.replace(info, backbone=backbone, head=head, overrides={**info.overrides, **overrides})


def _with_labels(
    info: ModelInfo, class_names: Sequence[str] | None, palette: Sequence[Sequence[int]] | None
) -> ModelInfo:
    """``info`` with the given class names and palette, checked against its class count; a segmenter whose
    class count changed without a palette gets one with a colour for every class."""
    count = info.num_classes
    if class_names is not None:
        names = tuple(str(name) for name in class_names)
        if len(names) != count:
            raise EfficientViTError(
                f"{info.name}: {len(names)} class names for {count} classes; give one name per class "
                f"(or num_classes={len(names)})"
            )
        info = dataclasses.replace(info, labels=names)
    if palette is not None:
        from efficientvit.pretrained import check_palette

        info = dataclasses.replace(info, palette=check_palette(palette, count, source=info.name))
    elif get_task(info.task).dense and (info.palette is None or len(info.palette) != count):
        from efficientvit.pretrained import default_palette

        info = dataclasses.replace(info, palette=default_palette(info.class_names, count, info.palette))
    return info


def create_model(
    name: str,
    weights: str | os.PathLike[str] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
    in_chans: int | None = None,
    features_only: bool = False,
    out_indices: int | tuple[int, ...] | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build the model ``name`` in eval mode, optionally loading ``weights``.

    ``weights`` is a local ``.pt`` / ``.pth`` / ``.safetensors`` file, a folder written by
    ``save_pretrained``, ``"hf://owner/repo/file"``, or ``"official"`` for the model's official checkpoint
    on the Hugging Face hub (downloaded once, cached). A folder, and a training run's ``best.pt`` /
    ``last.pt``, bring the model's overrides, class names and palette with them. ``overrides`` replace
    fields of the model's configs, e.g. ``num_classes=10``, ``dropout=0.1`` or, for super-resolution,
    ``scale=3``; ``class_names`` and ``palette`` (one RGB triple per class) name and colour the classes.
    timm's options: ``in_chans`` (loaded first-conv weights adapted as timm does), ``features_only`` with
    ``out_indices`` (see ``efficientvit.models.timm_api``).
    """
    saved = hint = None
    if weights is not None and (kind := special_kind(weights)) is not None:  # before any work
        raise EfficientViTError(not_regular_message(weights, kind, "checkpoint file"))
    if weights is not None:
        from efficientvit.pretrained import read_saved

        saved = read_saved(weights)
        if saved is not None and saved.model_name != name:
            saved, hint = None, saved.mismatch(name)  # a folder raises here; a run's checkpoint may still fit
    if saved is not None:
        overrides = {**saved.overrides, **overrides}
        class_names = saved.class_names if class_names is None else class_names
        palette = saved.palette if palette is None else palette
    info = _apply_overrides(get_model_info(name), overrides)
    info = _with_labels(info, class_names, palette)
    model = get_task(info.task).build_model(info)
    model.info = info  # type: ignore[assignment]  # metadata for preprocessing, labels and palettes
    if weights is not None:
        from efficientvit.weights import load_weights

        source = saved.weights if saved is not None else weights
        try:
            load_weights(model, source, model_name=name, default_checkpoint=info.checkpoint)
        except EfficientViTError as err:
            if hint is None:
                raise
            raise EfficientViTError(f"{err} {hint}") from None
    if in_chans is not None or features_only or out_indices is not None:
        from efficientvit.models.timm_api import apply_timm_options

        model = apply_timm_options(
            model,
            in_chans=in_chans,
            features_only=features_only,
            out_indices=out_indices,
            pretrained=weights is not None,
        )
    return model.eval()
