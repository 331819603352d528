"""What a prepared runner depends on: a content digest of the weights, and a cheap token of their state.

* :func:`weights_digest` hashes every parameter and buffer (names, dtypes, shapes and bytes): the key of
  the on-disk export cache, so two checkpoints with equal file sizes and timestamps never share an export.
* :func:`state_token` identifies the state of every tensor: its name, the identity of its storage and its
  autograd version counter, which every in-place write through the tensor bumps (``load_state_dict``,
  optimiser steps, ``with torch.no_grad(): p.mul_(2)``), and which a new tensor (``module.to(...)``,
  ``p.data = ...``, a replaced submodule) changes by identity. Writes through ``p.data`` bypass the counter
  (PyTorch gives ``.data`` a counter of its own): after those, call :func:`efficientvit.runtime.release`.
* :class:`WeightWatch` is what a runner asks before every call. Walking the module tree for the token costs
  milliseconds for a large model, so the watch walks only when a module somewhere registered a parameter,
  buffer or submodule since its last look (PyTorch's global registration hooks count those); otherwise it
  compares the storage and version of the tensors it already holds, a few microseconds per hundred tensors.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["WeightWatch", "state_token", "weights_digest"]

StateToken = tuple[tuple[str, int, int, int, str, torch.dtype, tuple[int, ...]], ...]


def _tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Every parameter and buffer of ``module``, by state-dict name (shared tensors once per name)."""
    named = [*module.named_parameters(remove_duplicate=False), *module.named_buffers(remove_duplicate=False)]
    return sorted(named, key=lambda item: item[0])


def _version(tensor: torch.Tensor) -> int:
    try:
        return tensor._version
    except RuntimeError:  # an inference tensor (created under inference_mode): it cannot be written in place
        return -1


def state_token(module: nn.Module) -> StateToken:
    """A value that changes whenever a parameter or buffer of ``module`` is replaced or written in place."""
    return tuple(
        (name, id(t), t.data_ptr(), _version(t), str(t.device), t.dtype, tuple(t.shape))
        for name, t in _tensors(module)
    )


def weights_digest(module: nn.Module) -> str:
    """The SHA-256 of ``module``'s parameters and buffers: names, dtypes, shapes and raw bytes."""
    digest = hashlib.sha256()
    for name, tensor in _tensors(module):
        data = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}\n".encode())
        if data.numel():
            digest.update(data.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


_registrations = 0
"""How many parameters, buffers and submodules any module of this process has registered (or replaced)."""


def _count_registration(*args: object) -> None:
    global _registrations
    _registrations += 1


nn.modules.module.register_module_parameter_registration_hook(_count_registration)
nn.modules.module.register_module_buffer_registration_hook(_count_registration)
nn.modules.module.register_module_module_registration_hook(_count_registration)


class WeightWatch:
    """Tells whether ``module``'s weights changed since the watch last looked (see the module docstring)."""

    def __init__(self, module: nn.Module) -> None:
        self._module = module
        self._epoch = _registrations
        self._token = state_token(module)
        self._held = [t for _, t in _tensors(module)]
        self._fast = self._fast_state()

    def _fast_state(self) -> list[tuple[int, int]]:
        return [(t.data_ptr(), _version(t)) for t in self._held]

    def changed(self) -> bool:
        """Whether a parameter or buffer was replaced or written in place since the last call."""
        if _registrations != self._epoch:
            token = state_token(self._module)
            if token != self._token:
                return True
            self._epoch = _registrations
            self._held = [t for _, t in _tensors(self._module)]
        return self._fast_state() != self._fast
