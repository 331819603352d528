"""Device names from users (``--device``, ``TrainConfig.device``) turned into torch devices that can run."""

from __future__ import annotations

import torch

from efficientvit.errors import EfficientViTError, one_line

__all__ = ["COMPUTE_DEVICE_TYPES", "check_device_name", "parse_device"]

COMPUTE_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
"""Device types that hold data and run kernels (``meta`` tensors have no data: nothing can be computed)."""


def check_device_name(text: str) -> torch.device:
    """``text`` as a torch device of a compute type, without checking this machine has it."""
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise EfficientViTError(
            f"device {text!r} is not a device name (e.g. cpu, cuda, cuda:1, mps)"
        ) from None
    if device.type not in COMPUTE_DEVICE_TYPES:
        raise EfficientViTError(
            f"device {text!r}: {device.type} tensors cannot run a model here; use one of "
            f"{', '.join(COMPUTE_DEVICE_TYPES)}"
        )
    return device


def parse_device(text: str) -> torch.device:
    """The device named ``text`` (``"auto"``: the first GPU if there is one, else the CPU), checked to work on
    this machine by allocating an empty tensor on it."""
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = check_device_name(text)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EfficientViTError(f"device {text}: no CUDA GPU is available on this machine; use cpu (or auto)")
    try:
        torch.empty(0, device=device)
    except Exception as err:  # not compiled with CUDA, no such GPU index, ...: all mean the same to the user
        raise EfficientViTError(
            f"device {text}: not available on this machine ({one_line(err)}); use cpu (or auto)"
        ) from None
    return device
