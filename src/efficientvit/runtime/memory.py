"""Reuse freed CPU memory for the next large tensor instead of returning it to the system (glibc only).

glibc's ``malloc`` serves every request over its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
gives it back with ``munmap`` when freed. A dense-prediction forward pass at high resolution allocates and
frees dozens of such tensors (64-256 MiB each for EfficientViT-SR at 1024x1024), and every one of them
faults its pages in again and has the kernel zero them. That was the time above the linear trend of
EfficientViT-SR at 1024x1024 and three quarters of eager segmentation's at 1024x2048 (README,
"Super-resolution" and "Performance").

:func:`reuse_freed_memory` turns that off for the process: large blocks come from the heap, and freed ones
stay with the process (up to :data:`KEEP_FREED_BYTES` at the heap's top) for the next pass. The runtime
calls it when it prepares a model for the CPU. It changes nothing when the process chose its own
allocator settings (``MALLOC_*_`` or ``GLIBC_TUNABLES`` in the environment), when
``EFFICIENTVIT_REUSE_MEMORY=0``, or off glibc (macOS, Windows, musl), whose allocators behave otherwise.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import threading

__all__ = ["KEEP_FREED_BYTES", "REUSE_MEMORY_ENV", "reuse_freed_memory"]

REUSE_MEMORY_ENV = "EFFICIENTVIT_REUSE_MEMORY"
"""Set to ``0`` to leave the C allocator as it is."""

KEEP_FREED_BYTES = 1 << 30
"""Free memory at the top of the heap that the process keeps for reuse (glibc's trim threshold)."""

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_lock = threading.Lock()
_applied: bool | None = None
"""None until the first call; then whether the settings were applied."""


def _user_chose_allocator_settings() -> bool:
    if os.environ.get(REUSE_MEMORY_ENV, "1") == "0":
        return True
    malloc_variables = [name for name in os.environ if name.startswith("MALLOC_") and name.endswith("_")]
    return bool(malloc_variables) or "malloc" in os.environ.get("GLIBC_TUNABLES", "")


def reuse_freed_memory() -> bool:
    """Apply the settings once per process; returns whether they are in effect."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _apply() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or _user_chose_allocator_settings():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success. No mmap for large blocks: they come from the heap and are reused.
    return bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)) and bool(mallopt(_M_MMAP_MAX, 0))
