"""Run an exported ONNX model in ONNX Runtime: torch tensors in and out, and ``info``."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from efficientvit.errors import EfficientViTError
from efficientvit.export.onnx import METADATA_PREFIX
from efficientvit.extras import require
from efficientvit.models.backbone import OUTPUT_STRIDE
from efficientvit.tasks.registry import get_task
from efficientvit.zoo import ModelInfo, get_model_info, override_names

_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


class OnnxRuntimeModel(nn.Module):
    """An ``onnxruntime.InferenceSession`` behind a module interface: call it with torch tensors (positional
    in the graph's input order, or by input name) and get torch tensors back, one or a tuple.

    Inputs are cast to the dtypes the graph declares (so int64 point labels feed a float input) and outputs
    come back on the first input's device. ``info`` is the registry metadata of the exported model, read from
    the file (written by :func:`~efficientvit.export.onnx.export_onnx`) unless given, so that
    ``efficientvit.inference.classify`` / ``segment`` accept this object in place of the PyTorch model.
    ``threads`` sets ONNX Runtime's intra-op thread count (default: its own choice); ``spinning=False``
    has those threads sleep after each parallel section instead of spinning (see
    :attr:`efficientvit.runtime.graphs.Graph.onnxruntime_spinning`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        info: ModelInfo | None = None,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int | None = None,
        spinning: bool = True,
    ) -> None:
        super().__init__()
        ort = _onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise EfficientViTError(f"ONNX model {self.path} not found; create it with export_onnx")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        if not spinning:  # the pool's threads sleep as soon as a parallel section ends
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=list(providers))
        except Exception as error:  # onnxruntime raises its own exception types for unreadable files
            raise EfficientViTError(f"{self.path} is not a loadable ONNX model: {error}") from None
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]
        self._input_types = [_NUMPY_TYPES.get(node.type) for node in self.session.get_inputs()]
        self.metadata: dict[str, str] = {
            key.removeprefix(METADATA_PREFIX): value
            for key, value in self.session.get_modelmeta().custom_metadata_map.items()
            if key.startswith(METADATA_PREFIX)
        }
        self.graph = self.metadata.get("graph")
        """What the file holds: classifier, segmenter, sam_image_encoder or sam_prompt_decoder (or None)."""
        self.info = info if info is not None else _info_from_metadata(self.metadata)
        if self.graph == "segmenter":
            self.size_divisor = OUTPUT_STRIDE

    def forward(
        self, *inputs: torch.Tensor, **named: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if len(inputs) > len(self.input_names):
            raise TypeError(f"{self.path.name} takes {len(self.input_names)} inputs, got {len(inputs)}")
        feeds = dict(zip(self.input_names, inputs, strict=False))
        for name, value in named.items():
            if name not in self.input_names or name in feeds:
                raise TypeError(f"unexpected or repeated input {name!r}; inputs: {self.input_names}")
            feeds[name] = value
        missing = [name for name in self.input_names if name not in feeds]
        if missing:
            raise TypeError(f"missing input(s) {missing} of {self.path.name}")
        device = next(iter(feeds.values())).device if feeds else torch.device("cpu")
        types = zip(self.input_names, self._input_types, strict=True)
        arrays = {name: _to_numpy(feeds[name], dtype) for name, dtype in types}
        outputs = [torch.from_numpy(out).to(device) for out in self.session.run(self.output_names, arrays)]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the graph is fixed to (exported with ``--static``), else None."""
        batch = self.session.get_inputs()[0].shape[0]
        return batch if isinstance(batch, int) else None

    def check_serves(self, info: ModelInfo) -> None:
        """Refuse a file that does not hold ``info``'s model with shapes its inference function can feed."""
        task = get_task(info.task)
        expected = task.graphs[0]
        if self.graph is None or self.info is None:
            raise EfficientViTError(
                f"{self.path} has no efficientvit metadata; export it with `efficientvit export`"
            )
        if self.graph != expected:
            raise EfficientViTError(
                f"{self.path} holds a {self.graph} graph ({self.info.name}), not a {expected}; "
                f"export one with `efficientvit export --model {info.name}`"
            )
        if self.info.name != info.name:
            raise EfficientViTError(
                f"{self.path} was exported from {self.info.name}, not {info.name}: "
                f"pass --model {self.info.name}"
            )
        height, width = self.session.get_inputs()[0].shape[2:]
        if task.own_size and (isinstance(height, int) or isinstance(width, int)):
            raise EfficientViTError(
                f"{self.path} takes only {height}x{width} images (exported with --static); "
                f"{task.title} keeps each image's own aspect ratio: export it without --static"
            )
        fixed = isinstance(height, int) and isinstance(width, int)
        if not task.own_size and fixed and (height, width) != tuple(info.resolution):
            expected_size = "x".join(map(str, info.resolution))
            raise EfficientViTError(
                f"{self.path} takes {height}x{width} images but {info.name} runs at {expected_size}: "
                f"export it with --resolution {expected_size} or without --static"
            )

    def extra_repr(self) -> str:
        return f"path={str(self.path)!r}, graph={self.graph!r}, providers={self.session.get_providers()}"


def _onnxruntime() -> Any:
    return require("onnxruntime", "running ONNX models")


def _to_numpy(tensor: torch.Tensor, dtype: Any) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
        tensor = tensor.float()
    array = tensor.numpy()
    return np.ascontiguousarray(array if dtype is None else array.astype(dtype, copy=False))


def _as_tuples(value: Any) -> Any:
    """JSON lists back to the tuples of the frozen configs."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def _info_from_metadata(metadata: dict[str, str]) -> ModelInfo | None:
    """The registry entry named in the file with its recorded config overrides (None if not recorded)."""
    name = metadata.get("model")
    if name is None:
        return None
    try:
        info = get_model_info(name)
    except EfficientViTError:
        return None
    overrides = json.loads(metadata.get("overrides", "{}"))  # {"backbone": {field: value}, "head": {...}}
    parts: dict[str, Any] = {
        part: dataclasses.replace(getattr(info, part), **{k: _as_tuples(v) for k, v in fields.items()})
        for part, fields in overrides.items()
    }
    if overrides:  # as create_model records them: one flat dict of names
        flat = override_names(info, overrides)
        parts["overrides"] = {k: _as_tuples(v) for k, v in flat.items()}
    if "class_names" in metadata:
        parts["labels"] = tuple(json.loads(metadata["class_names"]))
    if "palette" in metadata:
        parts["palette"] = tuple(tuple(colour) for colour in json.loads(metadata["palette"]))
    return dataclasses.replace(info, **parts)
