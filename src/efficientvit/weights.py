"""Reading checkpoints: official ``.pt`` files (raw or ``{"state_dict": ...}``), safetensors, files in timm's
key layout (converted), and the Hugging Face hub (downloaded once into its cache). Nothing is ever unpickled
beyond plain tensors."""

from __future__ import annotations

import functools
import os
import pickle
import socket
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from efficientvit import timm_checkpoints
from efficientvit.atomic import atomic_write
from efficientvit.errors import EfficientViTError
from efficientvit.files import regular_file

if TYPE_CHECKING:
    from efficientvit.zoo import Checkpoint

HUB_PREFIX = "hf://"
HUB_DEFAULT_FILENAME = "model.safetensors"
"""The file ``hf://OWNER/REPO`` (no filename) refers to, as in timm's and transformers' hub repositories."""
OFFICIAL = "official"
_SHOWN_KEYS = 3


def load_weights(
    model: nn.Module,
    weights: str | os.PathLike[str],
    *,
    model_name: str,
    default_checkpoint: Checkpoint | None = None,
) -> None:
    """Load ``weights`` (a file, ``hf://owner/repo[/file]`` or ``"official"``) into ``model`` strictly.

    A file in timm's key layout (``timm/efficientvit_*`` on the hub) is recognised by its keys and renamed.
    """
    path = resolve_weights(weights, model_name=model_name, default_checkpoint=default_checkpoint)
    state = read_state_dict(path)
    source = os.fspath(weights)
    if timm_checkpoints.is_timm_layout(state):
        state = _convert_timm(model, state, model_name=model_name, source=source)
    check_fits(model, state, model_name=model_name, source=source)
    model.load_state_dict(state, strict=True)


def _convert_timm(
    model: nn.Module, state: dict[str, torch.Tensor], *, model_name: str, source: str
) -> dict[str, torch.Tensor]:
    """``state`` from timm's layout into ours; a misfit names timm's model, ours and the fix."""
    converted, architecture = timm_checkpoints.convert_timm_state_dict(state, source=source)
    # Unexpected and mis-shaped keys are shown under their names in the file (same order as converted).
    file_names = dict(zip(converted, state, strict=True))
    problems = fit_problems(model, converted, file_names=file_names)
    if problems:
        target = timm_checkpoints.signature(model.state_dict())
        raise EfficientViTError(
            f"checkpoint {source} holds {architecture} and does not fit model {model_name}: "
            f"{timm_checkpoints.describe_mismatch(architecture, target)} ({'; '.join(problems)})"
        )
    return converted


def resolve_weights(
    weights: str | os.PathLike[str], *, model_name: str, default_checkpoint: Checkpoint | None = None
) -> Path:
    """A local path for ``weights``, downloading hub references into the hub cache."""
    text = os.fspath(weights)
    if text == OFFICIAL:
        if default_checkpoint is None:
            raise EfficientViTError(
                f"{model_name} has no published checkpoint; `efficientvit models` shows which models "
                "have one (for classifiers: the names with a resolution suffix such as -r224), "
                "or pass a local file"
            )
        from efficientvit.zoo import PackagedFile

        if isinstance(default_checkpoint, PackagedFile):
            if not default_checkpoint.path.is_file():
                raise EfficientViTError(
                    f"{model_name}: the packaged checkpoint {default_checkpoint.path} is missing; "
                    "reinstall efficientvit"
                )
            return default_checkpoint.path
        return download(default_checkpoint.repo_id, default_checkpoint.filename)
    if text.startswith(HUB_PREFIX):
        parts = text[len(HUB_PREFIX) :].split("/", 2)
        if len(parts) == 2:
            parts.append(HUB_DEFAULT_FILENAME)
        if len(parts) != 3 or not all(parts):
            raise EfficientViTError(
                f"{text}: a hub reference reads hf://OWNER/REPO/FILENAME, or hf://OWNER/REPO for the "
                f"repo's {HUB_DEFAULT_FILENAME} (e.g. hf://timm/efficientvit_b1.r224_in1k)"
            )
        return download(f"{parts[0]}/{parts[1]}", parts[2])
    return Path(text)


def download(repo_id: str, filename: str) -> Path:
    """Fetch ``filename`` from the hub repo ``repo_id`` (or take it from the local hub cache).

    When the hub cannot be reached (see :func:`hub_reachable`) only the cache is looked at, so an offline
    machine gets its answer at once instead of after huggingface_hub's retries.
    """
    from huggingface_hub import hf_hub_download

    online = hub_reachable()
    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename, local_files_only=not online))
    except Exception as err:  # offline, missing file, no such repo: all end the same way for the user
        if not online:
            raise EfficientViTError(
                f"could not download {HUB_PREFIX}{repo_id}/{filename}: {_hub_host()[0]} cannot be reached "
                "(this machine looks offline) and the file is not in the Hugging Face cache; download it "
                "elsewhere and pass its local path as weights"
            ) from None
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EfficientViTError(
            f"could not download {HUB_PREFIX}{repo_id}/{filename} ({reason}); if this machine is offline, "
            f"download the file elsewhere and pass its local path as weights"
        ) from err


HUB_PROBE_SECONDS = 3.0
"""How long :func:`hub_reachable` waits for a TCP connection to the hub."""


def _hub_host() -> tuple[str, int]:
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)


def hub_reachable() -> bool:
    """Whether the Hugging Face hub can be reached: False with ``HF_HUB_OFFLINE=1``, or when a TCP connection
    to its host fails within :data:`HUB_PROBE_SECONDS` (no name server, no route; tried once per process).
    Behind a proxy (``HTTPS_PROXY``, ``ALL_PROXY``) the answer is left to huggingface_hub."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    return _connects(*_hub_host())


@functools.lru_cache(maxsize=4)
def _connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=HUB_PROBE_SECONDS).close()
    except OSError:
        return False
    return True


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, safely: zip ``.pt`` through ``weights_only`` or safetensors."""
    path = regular_file(path, "checkpoint file")
    if zipfile.is_zipfile(path):
        state = _read_torch(path)
    elif _looks_like_safetensors(path):
        state = _read_safetensors(path)
    else:
        raise EfficientViTError(
            f"{path}: not a checkpoint (expected a PyTorch .pt zip archive or a .safetensors file; "
            f"the file may be truncated or corrupt)"
        )
    return _unwrap(state, path)


def _read_torch(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise EfficientViTError(
            f"{path}: holds pickled Python objects besides tensors; refusing to unpickle it "
            f"(only weights_only checkpoints load; re-save its state_dict from trusted code)"
        ) from None
    except (RuntimeError, EOFError, ValueError, KeyError) as err:
        raise EfficientViTError(f"{path}: corrupt PyTorch checkpoint ({str(err).splitlines()[0]})") from None


def _looks_like_safetensors(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise EfficientViTError(f"{path}: corrupt safetensors file ({err})") from None


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: raw, under ``state_dict`` / ``model``, or saved from DDP."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise EfficientViTError(f"{path}: does not hold a state dict of tensors")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def check_fits(model: nn.Module, state: dict[str, torch.Tensor], *, model_name: str, source: str) -> None:
    """Raise one readable error unless ``state`` matches ``model`` key for key and shape for shape, with
    floating-point, finite values."""
    problems = fit_problems(model, state)
    if problems:
        raise EfficientViTError(
            f"checkpoint {source} does not fit model {model_name}: {'; '.join(problems)}; "
            f"is it the checkpoint of another model?"
        )
    problems = value_problems(model, state)
    if problems:
        raise EfficientViTError(
            f"checkpoint {source} cannot be used: {'; '.join(problems)}; the file is damaged or comes from "
            "a run that diverged: use an earlier checkpoint"
        )


def fit_problems(
    model: nn.Module, state: dict[str, torch.Tensor], *, file_names: dict[str, str] | None = None
) -> list[str]:
    """What keeps ``state`` from loading into ``model`` strictly: missing, unexpected, mis-shaped keys.

    ``file_names`` maps renamed keys of ``state`` back to their names in the file, for the message.
    """
    expected = model.state_dict()
    named = file_names or {}
    missing = [k for k in expected if k not in state]
    unexpected = [named.get(k, k) for k in state if k not in expected]
    misshaped = [
        f"{named.get(k, k)} {list(state[k].shape)} vs {list(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    return _listed(
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("mis-shaped keys, checkpoint vs model", misshaped),
    )


def value_problems(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """What makes ``state``'s values unusable although its keys fit: integer tensors where the model has
    floating-point weights (``load_state_dict`` would cast them silently), NaN or infinite values."""
    expected = model.state_dict()
    not_float = [
        f"{k} {str(state[k].dtype).removeprefix('torch.')}"
        for k, v in expected.items()
        if k in state and v.is_floating_point() and not state[k].is_floating_point()
    ]
    not_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    return _listed(
        ("weights that are not floating point", not_float),
        ("weights with NaN or infinite values", not_finite),
    )


def _listed(*groups: tuple[str, list[str]]) -> list[str]:
    """``"<count> <label> (first, second, third, ...)"`` for each non-empty group."""
    return [
        f"{len(items)} {label} ({', '.join(items[:_SHOWN_KEYS])}{', ...' * (len(items) > _SHOWN_KEYS)})"
        for label, items in groups
        if items
    ]


def save_safetensors(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s state dict as safetensors (contiguous copies, shared storage resolved)."""
    from safetensors.torch import save

    path = Path(path)
    data = save({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()})
    with atomic_write(path) as file:
        file.write(data)
    return path
