"""A config that travels with the weights: ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub``.

A saved model is a folder (or a Hugging Face hub repo) holding

* ``config.json`` — the registry name, the overrides given to ``create_model`` (``{"num_classes": 10}``), the
  class names, a segmenter's palette, the package version and a format marker;
* ``model.safetensors`` — the state dict;
* ``README.md`` — a short model card (written only if the folder has none).

``efficientvit.from_pretrained(folder_or_repo_id, revision=...)`` rebuilds the model from the registry with
those overrides and loads the weights; ``create_model(name, weights=folder)`` does the same for a folder
whose config names ``name``. A training run's ``best.pt`` / ``last.pt`` carry the same config under the
key ``"pretrained"``.

The names and meanings follow huggingface_hub's ``ModelHubMixin``, which we do not inherit: its
``from_pretrained`` is a classmethod that calls ``cls(**config)``, while our models are built by the
registry from a name and config overrides (the constructors take modules, which cannot be JSON), and it
writes ``config.json`` and ``README.md`` in place rather than atomically.
"""

from __future__ import annotations

import colorsys
import dataclasses
import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn

from efficientvit import json_output
from efficientvit.atomic import atomic_write, atomic_write_text
from efficientvit.errors import EfficientViTError
from efficientvit.tasks.registry import get_task

if TYPE_CHECKING:
    from efficientvit.zoo import ModelInfo, Palette

__all__ = [
    "CONFIG_NAME",
    "FORMAT",
    "WEIGHTS_NAME",
    "PretrainedMixin",
    "SavedModel",
    "from_pretrained",
    "pretrained_config",
    "push_to_hub",
    "read_saved",
    "save_pretrained",
]

FORMAT = "efficientvit-pretrained"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_CARD_NAME = "README.md"
TRAIN_FORMAT = "efficientvit-train"  # efficientvit.train.checkpoint.FORMAT (not imported: train is heavy)
TRAIN_KEY = "pretrained"
"""The key of a run's checkpoint (``best.pt`` / ``last.pt``) that holds the same dict as ``config.json``."""

M = TypeVar("M", bound="PretrainedMixin")


@dataclass(frozen=True)
class SavedModel:
    """The metadata saved beside a model's weights (``config.json``, or a training checkpoint's)."""

    model_name: str
    overrides: dict[str, Any]
    num_classes: int
    class_names: tuple[str, ...] | None
    palette: tuple[tuple[int, int, int], ...] | None
    version: str
    weights: Path
    """The file that holds the tensors."""
    source: str
    """What the user gave (a folder, a checkpoint file), for messages."""
    folder: bool = field(default=True)
    """Written by ``save_pretrained`` (True) or by a training run (False)."""

    def describe(self) -> str:
        """``efficientvit-seg-b0-cityscapes with 4 classes`` (the class count left out when there is none)."""
        return f"{self.model_name} with {self.num_classes} classes" if self.num_classes else self.model_name

    def mismatch(self, name: str) -> str:
        """For weights of another model than ``name``: a folder raises; a run's checkpoint gives the hint to
        add to the "does not fit" error (a checkpoint of an identical architecture still loads)."""
        if self.folder:
            raise EfficientViTError(
                f"{self.source} holds {self.describe()}, not {name}: use the model name {self.model_name} "
                f"(or efficientvit.from_pretrained({self.source!r}), which reads it from config.json)"
            )
        return f"It was trained as {self.describe()}: use the model name {self.model_name}."


def pretrained_config(info: ModelInfo) -> dict[str, Any]:
    """The ``config.json`` dict of a model built by ``create_model`` (``model.info``)."""
    from efficientvit import __version__

    overrides: dict[str, Any] = {}
    for key, value in info.overrides.items():
        value = _as_lists(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise EfficientViTError(
                f"{info.name}: the override {key}={value!r} cannot be written to {CONFIG_NAME} (only "
                "numbers, strings, booleans and lists of them can); use JSON-valued overrides"
            ) from None
        overrides[key] = value
    names = info.class_names
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "efficientvit_version": __version__,
        "model_name": info.name,
        "task": info.task,
        "num_classes": info.num_classes,
        "overrides": overrides,
        "class_names": list(names) if names else None,
        "palette": [list(colour) for colour in info.palette] if info.palette is not None else None,
    }


def save_pretrained(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    *,
    repo_id: str | None = None,
    push_to_hub: bool = False,
    **push_to_hub_kwargs: Any,
) -> Path | str:
    """Write ``config.json``, ``model.safetensors`` (and a ``README.md`` model card if absent) into
    ``save_directory``, each file atomically; with ``push_to_hub=True`` also upload them to ``repo_id``
    (default: the folder's name) and return the commit URL, else return the folder."""
    directory = Path(save_directory)
    _write(model, directory, load_name=str(directory))
    if push_to_hub:
        return _upload(model, repo_id or directory.name, **push_to_hub_kwargs)
    return directory


def _write(model: nn.Module, directory: Path, *, load_name: str) -> None:
    """The files of :func:`save_pretrained`; the model card says to load ``load_name``."""
    config = pretrained_config(_model_info(model))
    if directory.exists() and not directory.is_dir():
        raise EfficientViTError(f"{directory}: exists and is not a folder; save_pretrained writes a folder")
    from safetensors.torch import save

    tensors = {key: value.detach().cpu().clone().contiguous() for key, value in model.state_dict().items()}
    payload = save(tensors, metadata={"format": "pt"})  # safetensors bytes, shared storage resolved by clone
    with atomic_write(directory / WEIGHTS_NAME) as file:
        file.write(payload)
    atomic_write_text(directory / CONFIG_NAME, json_output.dumps(config, indent=2) + "\n")
    if not (directory / MODEL_CARD_NAME).exists():
        atomic_write_text(directory / MODEL_CARD_NAME, _model_card(config, load_name))


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    commit_message: str = "Push model using huggingface_hub.",
    private: bool | None = None,
    token: str | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    delete_patterns: list[str] | str | None = None,
) -> str:
    """Create the hub repo ``repo_id`` if needed and upload the ``save_pretrained`` files in one commit (on
    ``branch``, or as a pull request); returns the commit URL, as huggingface_hub's ``push_to_hub`` does."""
    return _upload(
        model, repo_id, commit_message=commit_message, private=private, token=token, branch=branch,
        create_pr=create_pr, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns,
        delete_patterns=delete_patterns,
    )  # fmt: skip


def _upload(  # save_pretrained's push_to_hub argument hides push_to_hub there
    model: nn.Module,
    repo_id: str,
    *,
    commit_message: str = "Push model using huggingface_hub.",
    private: bool | None = None,
    token: str | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    delete_patterns: list[str] | str | None = None,
) -> str:
    from huggingface_hub import HfApi

    _model_info(model)  # refuse a model without metadata before talking to the hub
    api = HfApi(token=token)
    try:
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary) / "model"
            _write(model, folder, load_name=repo_id)
            return api.upload_folder(
                repo_id=repo_id, repo_type="model", folder_path=folder, commit_message=commit_message,
                revision=branch, create_pr=create_pr, allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns, delete_patterns=delete_patterns,
            )  # fmt: skip
    except EfficientViTError:
        raise
    except Exception as err:  # offline, no token, no permission: one line for the user
        raise EfficientViTError(
            f"could not push to the hub repo {repo_id} ({_reason(err)}); check the network and that you are "
            "logged in (`hf auth login`, or token=...) with write access"
        ) from err


def from_pretrained(
    pretrained_model_name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    force_download: bool = False,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> nn.Module:
    """The model saved by ``save_pretrained`` in a local folder or a hub repo (``owner/name``), in eval mode.

    A repo is fetched through huggingface_hub into its cache (``HF_HUB_CACHE``); ``revision`` pins a
    branch, tag or commit, and both files come from the same commit. Offline (``HF_HUB_OFFLINE=1``) a repo
    already in the cache loads; anything else is a one-line error.
    """
    folder = _pretrained_folder(
        pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir, force_download=force_download,
        token=token, local_files_only=local_files_only,
    )  # fmt: skip
    saved = read_saved(folder)
    assert saved is not None  # a folder always has a config (or read_saved raised)
    from efficientvit.zoo import create_model

    return create_model(saved.model_name, weights=folder)


class PretrainedMixin:
    """``save_pretrained``, ``push_to_hub`` and ``from_pretrained`` as methods, with huggingface_hub's
    ``ModelHubMixin`` names and meanings (the model must come from ``create_model``: it reads ``info``)."""

    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        *,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        **push_to_hub_kwargs: Any,
    ) -> Path | str:
        """Write ``config.json`` + ``model.safetensors`` to ``save_directory`` (:func:`save_pretrained`)."""
        return save_pretrained(
            _as_module(self), save_directory, repo_id=repo_id, push_to_hub=push_to_hub, **push_to_hub_kwargs
        )

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload the ``save_pretrained`` files to the hub repo ``repo_id`` (see :func:`push_to_hub`)."""
        return push_to_hub(_as_module(self), repo_id, **kwargs)

    @classmethod
    def from_pretrained(
        cls: type[M], pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any
    ) -> M:
        """The saved model (see :func:`from_pretrained`), checked to be of this class."""
        model = from_pretrained(pretrained_model_name_or_path, **kwargs)
        if not isinstance(model, cls):
            raise EfficientViTError(
                f"{os.fspath(pretrained_model_name_or_path)} holds {model.info.name} "  # type: ignore[union-attr]
                f"(a {type(model).__name__}), not a {cls.__name__}; load it with efficientvit.from_pretrained"
            )
        return model


def read_saved(weights: str | os.PathLike[str]) -> SavedModel | None:
    """The metadata that travels with ``weights``: a ``save_pretrained`` folder's ``config.json`` or a
    training checkpoint's; None for plain checkpoint files and hub references (they carry none)."""
    text = os.fspath(weights)
    if text == "official" or text.startswith("hf://"):
        return None
    path = Path(text)
    if path.is_dir():
        config_path = path / CONFIG_NAME
        if not config_path.is_file():
            raise EfficientViTError(
                f"{path}: a folder without {CONFIG_NAME}; give a folder written by save_pretrained "
                f"({CONFIG_NAME} + {WEIGHTS_NAME}) or a checkpoint file"
            )
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            reason = _reason(err)
            raise EfficientViTError(f"{config_path}: unreadable ({reason}); save the model again") from None
        weights_path = path / WEIGHTS_NAME
        if not weights_path.is_file():
            raise EfficientViTError(f"{path}: {CONFIG_NAME} without {WEIGHTS_NAME}; save the model again")
        return _parse(data, source=text, config_source=str(config_path), weights=weights_path, folder=True)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return None
    try:  # mmap: the metadata is read, the tensors stay on disk until load_weights reads them
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, KeyError, OSError):
        return None  # load_weights reports what is wrong with the file
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != TRAIN_FORMAT:
        return None
    data = checkpoint.get(TRAIN_KEY)
    if not isinstance(data, dict):
        return None  # a run's checkpoint from before the metadata: loads as a plain state dict
    return _parse(data, source=text, config_source=f"{path} [{TRAIN_KEY!r}]", weights=path, folder=False)


def _parse(data: object, *, source: str, config_source: str, weights: Path, folder: bool) -> SavedModel:
    """Check a ``config.json`` dict and turn it into a :class:`SavedModel`."""
    from efficientvit import __version__
    from efficientvit.zoo import get_model_info

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EfficientViTError(
            f'{config_source}: not an efficientvit model config (no "format": "{FORMAT}"); '
            "give a folder written by efficientvit's save_pretrained"
        )
    version = str(data.get("efficientvit_version", "?"))
    format_version = data.get("format_version")
    if not isinstance(format_version, int) or format_version > FORMAT_VERSION:
        raise EfficientViTError(
            f"{config_source}: format version {format_version!r}, written by efficientvit {version}; this is "
            f"efficientvit {__version__} (format {FORMAT_VERSION}): pip install -U efficientvit"
        )
    name = data.get("model_name")
    if not isinstance(name, str):
        raise EfficientViTError(f'{config_source}: no "model_name"; save the model again')
    try:
        info = get_model_info(name)
    except EfficientViTError as err:
        raise EfficientViTError(
            f"{config_source}: {err} (saved by efficientvit {version}; a newer version may know it)"
        ) from None
    overrides = data.get("overrides", {})
    names = data.get("class_names")
    palette = data.get("palette")
    num_classes = data.get("num_classes", 0)
    if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
        raise EfficientViTError(f'{config_source}: "overrides" is not an object of config fields')
    parts = [part for part in (info.backbone, info.head) if part is not None]
    fields = {f.name for part in parts for f in dataclasses.fields(part)}
    if set(overrides) - fields:
        raise EfficientViTError(
            f"{config_source}: {name} has no config field(s) {sorted(set(overrides) - fields)} "
            f"(saved by efficientvit {version}; a newer version may know them)"
        )
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise EfficientViTError(f'{config_source}: "class_names" is not a list of strings')
    if not isinstance(num_classes, int) or isinstance(num_classes, bool):
        raise EfficientViTError(f'{config_source}: "num_classes" is not an integer')
    return SavedModel(
        model_name=name,
        overrides={key: _as_tuples(value) for key, value in overrides.items()},
        num_classes=num_classes,
        class_names=tuple(names) if names is not None else None,
        palette=None if palette is None else check_palette(palette, None, source=config_source),
        version=version,
        weights=weights,
        source=source,
        folder=folder,
    )


def check_palette(palette: object, count: int | None, *, source: str) -> Palette:
    """``palette`` as a tuple of RGB triples of ints in [0, 255], one per class when ``count`` is given."""
    problem = "is not a list of [R, G, B] triples of integers in 0..255"
    if not isinstance(palette, Sequence) or isinstance(palette, str):
        raise EfficientViTError(f"{source}: the palette {problem}")
    colours: list[tuple[int, int, int]] = []
    for colour in palette:
        if (
            not isinstance(colour, Sequence)
            or len(colour) != 3
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)
        ):
            raise EfficientViTError(f"{source}: the palette {problem} (entry {colour!r})")
        colours.append((int(colour[0]), int(colour[1]), int(colour[2])))
    if count is not None and len(colours) != count:
        raise EfficientViTError(
            f"{source}: a palette of {len(colours)} colours for {count} classes; give one per class"
        )
    return tuple(colours)


def default_palette(class_names: Sequence[str], count: int, base: Palette | None) -> Palette:
    """A colour per class: a known dataset's own palette when the names are its classes, else ``base``'s
    first colours, then ADE20K's, then evenly spread hues (for more than 150 + ``len(base)`` classes)."""
    from efficientvit.data.labels import ADE20K_PALETTE, SEGMENTATION_LABELS

    known = dict(SEGMENTATION_LABELS.values())  # class names -> their palette
    if tuple(class_names) in known:
        return known[tuple(class_names)]
    colours = list(dict.fromkeys([*(base or ()), *ADE20K_PALETTE]))[:count]
    for index in range(count - len(colours)):
        hue = (index * 0.618033988749895) % 1.0  # golden-ratio steps: neighbours far apart on the wheel
        red, green, blue = colorsys.hsv_to_rgb(hue, 0.8, 0.9)
        colours.append((round(red * 255), round(green * 255), round(blue * 255)))
    return tuple(colours)


def _pretrained_folder(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None,
    cache_dir: str | os.PathLike[str] | None,
    force_download: bool,
    token: str | bool | None,
    local_files_only: bool,
) -> Path:
    """A local folder holding ``config.json`` + ``model.safetensors``: the one given, or the hub cache's
    snapshot of the repo at ``revision`` (downloaded if needed)."""
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if revision is not None:
            raise EfficientViTError(f"{path}: a local folder has no revisions; drop revision={revision!r}")
        return path
    if path.exists():
        raise EfficientViTError(
            f"{path}: not a folder; from_pretrained takes a folder written by save_pretrained or a hub repo "
            "id (owner/name); a checkpoint file loads with create_model(name, weights=file)"
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    from efficientvit.weights import hub_reachable

    try:
        validate_repo_id(text)
    except HFValidationError:
        raise EfficientViTError(f"{text}: no such folder, and not a hub repo id (owner/name)") from None
    pinned = revision
    folder: Path | None = None
    for filename in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            file = Path(
                hf_hub_download(
                    repo_id=text,
                    filename=filename,
                    revision=pinned,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    token=token,
                    local_files_only=local_files_only or not hub_reachable(),
                )
            )
        except Exception as err:  # offline, no such repo / revision / file: one line for the user
            raise EfficientViTError(_download_error(text, filename, revision, err, local=path)) from err
        if folder is None:
            folder = file.parent
            if folder.parent.name == "snapshots":
                pinned = folder.name  # the commit the first file came from: the weights come from it too
            _parse_config_file(file, source=text)  # a wrong repo fails before its weights are fetched
    assert folder is not None
    return folder


def _parse_config_file(path: Path, *, source: str) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise EfficientViTError(f"{source}: {CONFIG_NAME} is unreadable ({_reason(err)})") from None
    _parse(data, source=source, config_source=f"{source}: {CONFIG_NAME}", weights=path, folder=True)


def _download_error(repo_id: str, filename: str, revision: str | None, err: Exception, *, local: Path) -> str:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{filename} of the hub repo {repo_id}" + (f" at revision {revision}" if revision else "")
    if isinstance(err, LocalEntryNotFoundError) or constants.HF_HUB_OFFLINE:
        return (
            f"{where} is not in the hub cache and this machine is offline or HF_HUB_OFFLINE is set (no "
            f"local folder {local} either): fetch it once online, or pass a folder written by save_pretrained"
        )
    if isinstance(err, RevisionNotFoundError):
        return f"{where}: no such revision ({_reason(err)}); give a branch, tag or commit of the repo"
    if isinstance(err, RepositoryNotFoundError):
        return f"{repo_id}: no local folder of that name, and no such hub repo (or it is private: log in)"
    if isinstance(err, EntryNotFoundError):
        return (
            f"the hub repo {repo_id} has no {filename}: it was not written by save_pretrained (an official "
            "checkpoint file loads with create_model(name, weights='hf://owner/repo/file'))"
        )
    return f"could not fetch {where} ({_reason(err)}); if this machine is offline, pass a local folder"


def _model_card(config: dict[str, Any], load_name: str) -> str:
    """A minimal hub model card: the library and task tags, and how to load the model."""
    classes = f" with {config['num_classes']} classes" if config["num_classes"] else ""
    names = config["class_names"]
    shown = f"\n\nClasses: {', '.join(names[:20])}{', ...' if len(names) > 20 else ''}." if names else ""
    return (
        "---\nlibrary_name: efficientvit\n"
        f"pipeline_tag: {get_task(config['task']).pipeline_tag}\n"
        "tags:\n- efficientvit\n---\n\n"
        f"# {config['model_name']}{classes}\n\n"
        f"EfficientViT `{config['model_name']}`{classes}, saved by efficientvit "
        f"{config['efficientvit_version']}.{shown}\n\n"
        "```python\nimport efficientvit\n\n"
        f"model = efficientvit.from_pretrained({load_name!r})\n"
        + ("print(model.info.class_names)\n" if names else "")
        + "```\n"
    )


def _model_info(model: nn.Module) -> ModelInfo:
    info = getattr(model, "info", None)
    if info is None:
        raise EfficientViTError(
            "the model has no `info` (its registry name and overrides): build it with "
            "efficientvit.create_model"
        )
    return info


def _as_module(obj: object) -> nn.Module:
    if not isinstance(obj, nn.Module):
        raise TypeError(f"{type(obj).__name__} is not a torch.nn.Module")
    return obj


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _as_lists(value: Any) -> Any:
    """Tuples (the frozen configs' sequences) as JSON lists."""
    return [_as_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _as_tuples(value: Any) -> Any:
    """JSON lists back to the tuples of the frozen configs."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value
