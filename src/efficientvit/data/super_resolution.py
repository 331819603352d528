"""Super-resolution pairs made on the fly from a folder of high-resolution images (e.g. DIV2K)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from efficientvit.data.common import FileDataset, OnError, find_images, load_image, require_dir
from efficientvit.data.layouts import DatasetLayout, register_layout
from efficientvit.errors import EfficientViTError

__all__ = ["SuperResolutionFolderDataset", "bicubic_downscale"]

_DIV2K_FOLDERS = {"train": "DIV2K_train_HR", "val": "DIV2K_valid_HR", "valid": "DIV2K_valid_HR"}
DECODED_CACHE_BYTES = 1 << 30
"""Decoded HR images a dataset keeps in memory, per process (training revisits each photo many times per epoch
with ``--repeat``; decoding a large PNG costs far more than cropping a patch from it)."""
_LAYOUT = "{root}/*.png, {root}/{{train,val}}/*.png or {root}/DIV2K_{{train,valid}}_HR/*.png (HR images)"


def bicubic_downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The LR image of a uint8 (3, H, W) ``hr`` whose sides are multiples of ``scale``: bicubic antialiased
    downscaling by ``scale`` in float, rounded and clamped to uint8 as a saved LR PNG is, shape (3, H/s, W/s).
    """
    height, width = hr.shape[-2:]
    lr = F.interpolate(
        hr.float()[None],
        size=(height // scale, width // scale),
        mode="bicubic",
        align_corners=False,
        antialias=True,
    )[0]  # (3, H / s, W / s), values in about [0, 255]
    return lr.round().clamp(0, 255).to(torch.uint8)


class SuperResolutionFolderDataset(FileDataset):
    """HR images in a folder; item ``i`` is ``(lr, hr)``, float32 in [0, 1], shapes (3, h, w) and
    (3, h * scale, w * scale).

    The folder is ``root`` itself (``split=None``), ``root/{split}``, or the DIV2K names ``DIV2K_train_HR`` /
    ``DIV2K_valid_HR`` for ``split="train"`` / ``"val"``; if none of these exists but ``root`` holds images,
    ``root`` is used. ``transform`` (e.g.
    :func:`~efficientvit.data.transforms.super_resolution_train_transform`) is applied to the uint8 HR
    image; then HR is cropped at the bottom/right to a multiple of ``scale`` and LR is its
    :func:`bicubic_downscale`. Grey, RGBA and 16-bit images are read as 8-bit RGB. Decoded images are kept
    in memory until they fill ``cache_bytes`` (per process: every data-loading worker has its own), so a
    photo is decoded once however often it is visited.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        *,
        scale: int,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        on_error: OnError = "raise",
        cache_bytes: int = DECODED_CACHE_BYTES,
    ) -> None:
        super().__init__(on_error)
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {cache_bytes}")
        self.cache_bytes = cache_bytes
        self._decoded: dict[int, torch.Tensor] = {}
        self._decoded_bytes = 0
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.root = Path(root)
        self.split = split
        self.scale = scale
        self.transform = transform
        layout = _LAYOUT.format(root=self.root)
        require_dir(self.root, "a super-resolution image folder", layout)
        directory = self.root
        if split is not None:
            candidates = [self.root / split]
            if split in _DIV2K_FOLDERS:
                candidates.append(self.root / _DIV2K_FOLDERS[split])
            found = [c for c in candidates if c.is_dir()]
            if found:
                directory = found[0]
            elif not find_images(self.root):
                names = " or ".join(str(c) for c in candidates)
                raise EfficientViTError(f"{names}: no such split folder; expected {layout}")
        self.directory = directory
        self.samples: list[Path] = find_images(directory)
        if not self.samples:
            raise EfficientViTError(f"{directory}: contains no image files; expected {layout}")

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.samples[index]
        hr = self._decode(index)  # (3, H, W) uint8
        if self.transform is not None:
            try:
                hr = self.transform(hr)
            except ValueError as exc:
                raise EfficientViTError(f"{path}: {' '.join(str(exc).split())}") from exc
        height, width = hr.shape[-2:]
        s = self.scale
        if height < s or width < s:
            raise EfficientViTError(
                f"{path}: image is {height}x{width} (HxW), smaller than the x{s} scale factor; remove it"
            )
        hr = hr.as_subclass(torch.Tensor)[:, : height - height % s, : width - width % s]  # (3, h*s, w*s)
        lr = bicubic_downscale(hr, s)  # (3, h, w) uint8
        return lr.float() / 255.0, hr.float() / 255.0

    def _decode(self, index: int) -> torch.Tensor:
        """Image ``index`` as uint8 (3, H, W), from the cache when it is there (transforms never write into
        it: they return new tensors or views that are copied before use)."""
        cached = self._decoded.get(index)
        if cached is not None:
            return cached
        image = load_image(self.samples[index])
        size = image.numel() * image.element_size()
        if self._decoded_bytes + size <= self.cache_bytes:
            self._decoded[index] = image
            self._decoded_bytes += size
        return image


register_layout(
    DatasetLayout(
        name="folder",
        task="sr",
        description="folder: ROOT/*.png, ROOT/{train,val}/*.png or ROOT/DIV2K_{train,valid}_HR/*.png",
        detect=lambda root: True,  # any folder of images
        build=lambda root, split, *, transform, scale, on_error: SuperResolutionFolderDataset(
            root, split, scale=scale, transform=transform, on_error=on_error
        ),
        generic=True,
    )
)
