"""Data: image I/O, label metadata, datasets in their native on-disk layouts, transforms, synthetic data.

* :func:`build_dataset` / :func:`detect_dataset` pick the dataset of a folder for a task (``cls``, ``seg``,
  ``sr``): ImageNet-style class folders, Cityscapes, ADE20K, a plain ``images/`` + ``masks/`` folder, or a
  folder of HR images (DIV2K); :class:`CocoInstanceDataset` reads COCO instance annotations.
* :mod:`efficientvit.data.transforms` builds the training and evaluation transforms (image and mask together).
* :func:`write_synthetic_dataset` writes a tiny learnable dataset in any of these layouts.

Datasets raise :class:`~efficientvit.errors.EfficientViTError` naming the bad file, or with
``on_error="skip"`` warn once and return the next sample that loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from efficientvit.lazy import lazy_attributes

if TYPE_CHECKING:
    from efficientvit.data.ade20k import ADE20KDataset
    from efficientvit.data.build import DATASET_KINDS, build_dataset, detect_dataset
    from efficientvit.data.cityscapes import CityscapesDataset
    from efficientvit.data.classification import ImageFolderDataset
    from efficientvit.data.coco import CocoInstanceDataset, collate_instances
    from efficientvit.data.segmentation_folder import SegmentationFolderDataset
    from efficientvit.data.super_resolution import SuperResolutionFolderDataset
    from efficientvit.data.synthetic import write_synthetic_dataset

__all__ = [
    "DATASET_KINDS",
    "ADE20KDataset",
    "CityscapesDataset",
    "CocoInstanceDataset",
    "ImageFolderDataset",
    "SegmentationFolderDataset",
    "SuperResolutionFolderDataset",
    "build_dataset",
    "collate_instances",
    "detect_dataset",
    "write_synthetic_dataset",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "ADE20KDataset": "efficientvit.data.ade20k",
        "DATASET_KINDS": "efficientvit.data.build",
        "build_dataset": "efficientvit.data.build",
        "detect_dataset": "efficientvit.data.build",
        "CityscapesDataset": "efficientvit.data.cityscapes",
        "ImageFolderDataset": "efficientvit.data.classification",
        "CocoInstanceDataset": "efficientvit.data.coco",
        "collate_instances": "efficientvit.data.coco",
        "SegmentationFolderDataset": "efficientvit.data.segmentation_folder",
        "SuperResolutionFolderDataset": "efficientvit.data.super_resolution",
        "write_synthetic_dataset": "efficientvit.data.synthetic",
    },
    globals(),
)  # imported on first use: `efficientvit.data.labels` and `.images` load without torchvision
