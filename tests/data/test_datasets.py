"""Tests for the on-disk datasets (efficientvit.data.{classification,cityscapes,ade20k,...}) and build.py."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from efficientvit.data import (
    DATASET_KINDS,
    ADE20KDataset,
    CityscapesDataset,
    CocoInstanceDataset,
    ImageFolderDataset,
    SegmentationFolderDataset,
    SuperResolutionFolderDataset,
    build_dataset,
    collate_instances,
    detect_dataset,
    write_synthetic_dataset,
)
from efficientvit.data.cityscapes import cityscapes_train_id_table
from efficientvit.data.common import read_mask
from efficientvit.errors import EfficientViTError

SIZE = (32, 64)


def _write_rgb(path: Path, height: int = 16, width: int = 24, seed: int = 0) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def _write_mask(path: Path, values: np.ndarray | list[list[int]], dtype: type = np.uint8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values).astype(dtype)).save(path)


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not an image file" * 4)


def _synthetic(tmp_path: Path, layout: str, **options: object) -> Path:
    return write_synthetic_dataset(tmp_path / layout, layout, size=SIZE, **options)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------------
# Every layout, written synthetically, detected and read


@pytest.mark.parametrize(
    ("layout", "task", "kind", "cls"),
    [
        ("imagenet", "cls", "imagenet", ImageFolderDataset),
        ("cityscapes", "seg", "cityscapes", CityscapesDataset),
        ("ade20k", "seg", "ade20k", ADE20KDataset),
        ("folder", "seg", "folder", SegmentationFolderDataset),
        ("sr", "sr", "folder", SuperResolutionFolderDataset),
    ],
)
def test_synthetic_layout_builds(tmp_path: Path, layout: str, task: str, kind: str, cls: type) -> None:
    root = _synthetic(tmp_path, layout, num_train=4, num_val=2)
    assert detect_dataset(root, task) == kind  # type: ignore[arg-type]
    for split, count in (("train", 4), ("val", 2)):
        dataset = build_dataset(task, root, split)  # type: ignore[arg-type]
        assert isinstance(dataset, cls)
        assert len(dataset) == count
        first, second = dataset[0]
        if task == "cls":
            assert isinstance(first, tv_tensors.Image) and first.dtype == torch.uint8
            assert tuple(first.shape) == (3, *SIZE)
            assert isinstance(second, int) and 0 <= second < dataset.num_classes
        elif task == "seg":
            assert isinstance(first, tv_tensors.Image) and first.dtype == torch.uint8
            assert isinstance(second, tv_tensors.Mask) and second.dtype == torch.int64
            assert tuple(first.shape) == (3, *SIZE) and tuple(second.shape) == SIZE
            valid = second[second != 255]
            assert valid.numel() > 0 and int(valid.max()) < dataset.num_classes
            assert (second == 255).any()  # each synthetic layout has an ignored strip
        else:
            assert first.dtype == second.dtype == torch.float32
            assert tuple(second.shape) == (3, 64, 64) and tuple(first.shape) == (3, 32, 32)
            assert float(first.min()) >= 0.0 and float(second.max()) <= 1.0


def test_seg_batches_collate(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "folder", num_train=4, num_val=1)
    images, masks = next(iter(DataLoader(build_dataset("seg", root, "train"), batch_size=4)))
    assert tuple(images.shape) == (4, 3, *SIZE) and tuple(masks.shape) == (4, *SIZE)


def test_build_dataset_named_kind_and_errors(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "ade20k", num_train=2, num_val=1)
    assert isinstance(build_dataset("seg", root, "val", dataset="ade20k"), ADE20KDataset)
    with pytest.raises(EfficientViTError, match="unknown seg dataset 'voc'; use one of") as unknown:
        build_dataset("seg", root, "val", dataset="voc")
    assert all(name in str(unknown.value) for name in ("cityscapes", "ade20k", "pascal_voc", "folder"))
    assert set(DATASET_KINDS) == {"cls", "seg", "sr"}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EfficientViTError) as info:
        detect_dataset(empty, "seg")
    message = str(info.value)
    assert message.startswith(str(empty)) and "\n" not in message
    assert "leftImg8bit" in message and "ADEChallengeData2016" in message and "masks" in message
    with pytest.raises(EfficientViTError, match="leftImg8bit"):
        detect_dataset(tmp_path / "missing", "seg")


# ----------------------------------------------------------------------------------------------------------
# Missing roots name the layout expected


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda r: ImageFolderDataset(r, "train"), "/{train,val}/CLASS/"),
        (lambda r: CityscapesDataset(r, "train"), "/leftImg8bit/{train,val,test}/CITY/*_leftImg8bit.png"),
        (lambda r: ADE20KDataset(r, "train"), "images/{training,validation}/*.jpg"),
        (lambda r: SegmentationFolderDataset(r), "classes.txt"),
        (lambda r: SuperResolutionFolderDataset(r, scale=2), "DIV2K_{train,valid}_HR"),
    ],
)
def test_missing_root_names_expected_layout(tmp_path: Path, make, expected: str) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(EfficientViTError) as info:
        make(root)
    message = str(info.value)
    assert message.startswith(str(root)) and "\n" not in message
    assert expected in message and str(root) in message


def test_cityscapes_missing_split_names_layout(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "cityscapes", num_train=1, num_val=0)
    with pytest.raises(EfficientViTError, match=r"leftImg8bit.*gtFine"):
        CityscapesDataset(root, "test")


# ----------------------------------------------------------------------------------------------------------
# Cityscapes


def test_cityscapes_table() -> None:
    table = cityscapes_train_id_table()
    assert table.shape == (256,) and table.dtype == torch.int64
    assert table[7] == 0 and table[26] == 13 and table[33] == 18 and table[24] == 11 and table[23] == 10
    assert int((table != 255).sum()) == 19
    assert table[0] == table[1] == table[34] == table[255] == 255


def _cityscapes_pair(root: Path, split: str = "val", city: str = "lindau") -> tuple[Path, Path]:
    stem = f"{city}_000000_000019"
    image = root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
    _write_rgb(image, 2, 4)
    return image, root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"


def test_cityscapes_label_ids_to_train_ids(tmp_path: Path) -> None:
    _, labels = _cityscapes_pair(tmp_path)
    _write_mask(labels, [[7, 8, 26, 33], [0, 1, 34, 255]])
    image, mask = CityscapesDataset(tmp_path, "val")[0]
    assert mask.tolist() == [[0, 1, 13, 18], [255, 255, 255, 255]]
    assert image.shape == (3, 2, 4)


def test_cityscapes_prefers_label_train_ids(tmp_path: Path) -> None:
    _, labels = _cityscapes_pair(tmp_path)
    _write_mask(labels, [[7, 7, 7, 7], [7, 7, 7, 7]])
    _write_mask(
        labels.with_name(labels.name.replace("labelIds", "labelTrainIds")), [[5, 6, 7, 8], [9, 18, 0, 255]]
    )
    _, mask = CityscapesDataset(tmp_path, "val")[0]
    assert mask.tolist() == [[5, 6, 7, 8], [9, 18, 0, 255]]  # used as is, not through the id table


def test_cityscapes_synthetic_maps_ids(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "cityscapes", num_train=3, num_val=0)
    raw = read_mask(next((root / "gtFine" / "train").rglob("*_labelIds.png")))
    assert 0 in raw.unique().tolist() and 7 in raw.unique().tolist()  # ignored id and road present
    values = set()
    for i in range(3):
        values |= set(CityscapesDataset(root, "train")[i][1].unique().tolist())
    assert values <= {0, 10, 11, 13, 255} and {0, 255} <= values


def test_cityscapes_missing_label(tmp_path: Path) -> None:
    _cityscapes_pair(tmp_path)
    _, labels = _cityscapes_pair(tmp_path, city="ulm")
    _write_mask(labels, [[7, 7, 7, 7], [7, 7, 7, 7]])
    with pytest.raises(EfficientViTError, match=r"lindau_000000_000019_gtFine_labelIds\.png"):
        CityscapesDataset(tmp_path, "val")
    with pytest.warns(UserWarning, match=r"lindau_000000_000019_gtFine_labelIds\.png"):
        dataset = CityscapesDataset(tmp_path, "val", on_error="skip")
    assert len(dataset) == 1


# ----------------------------------------------------------------------------------------------------------
# ADE20K


def _ade_pair(base: Path, folder: str = "validation") -> Path:
    _write_rgb(base / "images" / folder / "ADE_val_00000001.jpg", 2, 3)
    return base / "annotations" / folder / "ADE_val_00000001.png"


@pytest.mark.parametrize("split", ["val", "validation"])
@pytest.mark.parametrize("inside", [True, False])
def test_ade20k_shift_and_roots(tmp_path: Path, split: str, inside: bool) -> None:
    base = tmp_path / "ADEChallengeData2016"
    _write_mask(_ade_pair(base), [[0, 1, 2], [149, 150, 0]])
    dataset = ADE20KDataset(base if inside else tmp_path, split)
    _, mask = dataset[0]
    assert mask.tolist() == [[255, 0, 1], [148, 149, 255]]
    assert dataset.num_classes == 150 and len(dataset.classes) == 150


def test_ade20k_unknown_split(tmp_path: Path) -> None:
    _write_mask(_ade_pair(tmp_path), [[1, 1, 1], [1, 1, 1]])
    with pytest.raises(EfficientViTError, match=r"'test'.*train, training, val, validation"):
        ADE20KDataset(tmp_path, "test")


# ----------------------------------------------------------------------------------------------------------
# Segmentation folder


def _folder(root: Path, masks: list[np.ndarray], classes: str = "bg\ncat\n\ndog\n") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text(classes)
    for i, values in enumerate(masks):
        _write_rgb(root / "images" / f"{i:02d}.jpg", *values.shape, seed=i)
        _write_mask(root / "masks" / f"{i:02d}.png", values)


def test_folder_classes_and_ignore(tmp_path: Path) -> None:
    _folder(tmp_path, [np.array([[0, 1], [2, 255]])])
    dataset = SegmentationFolderDataset(tmp_path)
    assert dataset.classes == ["bg", "cat", "dog"] and dataset.num_classes == 3
    assert dataset[0][1].tolist() == [[0, 1], [2, 255]]


def test_folder_value_out_of_range_names_file(tmp_path: Path) -> None:
    _folder(tmp_path, [np.array([[0, 1], [3, 255]])])
    with pytest.raises(EfficientViTError) as info:
        SegmentationFolderDataset(tmp_path)[0]
    message = str(info.value)
    assert (
        message.startswith(str(tmp_path / "masks" / "00.png")) and "3" in message and "classes.txt" in message
    )


def test_folder_split_subfolders_and_fallback(tmp_path: Path) -> None:
    _folder(tmp_path / "val", [np.zeros((2, 2))])
    (tmp_path / "classes.txt").write_text("a\nb\n")
    (tmp_path / "val" / "classes.txt").unlink()
    assert SegmentationFolderDataset(tmp_path, "val").classes == ["a", "b"]
    assert detect_dataset(tmp_path, "seg") == "folder"
    flat = tmp_path / "flat"
    _folder(flat, [np.zeros((2, 2)), np.ones((2, 2))])
    assert len(SegmentationFolderDataset(flat, "train")) == 2  # no train/ subfolder: the root itself


def test_read_mask_modes(tmp_path: Path) -> None:
    values = np.array([[0, 3], [17, 255]])
    _write_mask(tmp_path / "l.png", values)
    Image.fromarray(values.astype(np.uint8)).convert("P").save(tmp_path / "p.png")
    _write_mask(tmp_path / "i16.png", [[0, 300], [1000, 65535]], dtype=np.uint16)
    Image.fromarray(np.stack([values.astype(np.uint8)] * 3, -1)).save(tmp_path / "grey_rgb.png")
    assert read_mask(tmp_path / "l.png").tolist() == values.tolist()
    assert read_mask(tmp_path / "p.png").tolist() == values.tolist()  # palette indices, not colours
    assert read_mask(tmp_path / "i16.png").tolist() == [[0, 300], [1000, 65535]]
    assert read_mask(tmp_path / "grey_rgb.png").tolist() == values.tolist()
    mask = read_mask(tmp_path / "l.png")
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64
    _write_rgb(tmp_path / "colour.png", 2, 2)
    with pytest.raises(EfficientViTError, match="colour"):
        read_mask(tmp_path / "colour.png")


# ----------------------------------------------------------------------------------------------------------
# Bad files: raise naming the file, or skip with one warning


def test_corrupt_image_raise_and_skip(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "folder", num_train=3, num_val=0)
    bad = root / "train" / "images" / "0001.png"
    _corrupt(bad)
    with pytest.raises(EfficientViTError) as info:
        build_dataset("seg", root, "train")[1]
    assert str(info.value).startswith(str(bad))
    dataset = build_dataset("seg", root, "train", on_error="skip")
    good = dataset[2]
    with pytest.warns(UserWarning, match="0001.png") as record:
        image, mask = dataset[1]
    assert len(record) == 1
    assert torch.equal(image, good[0]) and torch.equal(mask, good[1])  # the next sample
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per file: no second warning
        dataset[1]


def test_corrupt_classification_image_skip_wraps(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "imagenet", num_train=3, num_val=0)
    dataset = ImageFolderDataset(root, "train", on_error="skip")
    last = dataset.samples[-1][0]
    _corrupt(last)
    with pytest.warns(UserWarning, match=last.name):
        _, label = dataset[len(dataset) - 1]
    assert label == dataset[0][1]  # wrapped around to index 0


def test_all_bad_raises(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "sr", num_train=2, num_val=0)
    for path in (root / "DIV2K_train_HR").iterdir():
        _corrupt(path)
    dataset = SuperResolutionFolderDataset(root, "train", scale=2, on_error="skip")
    with pytest.warns(UserWarning), pytest.raises(EfficientViTError, match="all 2 samples"):
        dataset[0]


def test_mask_of_wrong_size_names_both_files(tmp_path: Path) -> None:
    _folder(tmp_path, [np.zeros((4, 6))])
    _write_mask(tmp_path / "masks" / "00.png", np.zeros((5, 6)))
    with pytest.raises(EfficientViTError) as info:
        SegmentationFolderDataset(tmp_path)[0]
    message = str(info.value)
    assert str(tmp_path / "masks" / "00.png") in message and str(tmp_path / "images" / "00.jpg") in message
    assert "5x6" in message and "4x6" in message


def test_index_out_of_range(tmp_path: Path) -> None:
    dataset = build_dataset("cls", _synthetic(tmp_path, "imagenet", num_train=2, num_val=0), "train")
    with pytest.raises(IndexError):
        dataset[2]
    assert dataset[-1][1] == dataset[1][1]


# ----------------------------------------------------------------------------------------------------------
# Classification folders


def test_image_folder_classes_from_train(tmp_path: Path) -> None:
    for name in ("ant", "bee", "cat"):
        _write_rgb(tmp_path / "train" / name / "a.JPEG", 4, 4)
    _write_rgb(tmp_path / "val" / "cat" / "x.png", 4, 4)
    val = ImageFolderDataset(tmp_path, "val")
    assert val.classes == ["ant", "bee", "cat"] and val.num_classes == 3
    assert [label for _, label in val.samples] == [2]
    _write_rgb(tmp_path / "val" / "dog" / "y.png", 4, 4)
    with pytest.raises(EfficientViTError, match="dog"):
        ImageFolderDataset(tmp_path, "val")
    with pytest.raises(EfficientViTError, match="test"):
        ImageFolderDataset(tmp_path, "test")


def test_image_folder_root_is_split(tmp_path: Path) -> None:
    for name in ("ant", "bee"):
        _write_rgb(tmp_path / name / "nested" / "a.jpg", 4, 4)
    dataset = ImageFolderDataset(tmp_path, "val")
    assert dataset.classes == ["ant", "bee"] and len(dataset) == 2


# ----------------------------------------------------------------------------------------------------------
# Super-resolution


def test_sr_lr_is_bicubic_downscale_of_hr(tmp_path: Path) -> None:
    _write_rgb(tmp_path / "a.png", 19, 22)  # cropped to 18x21 for x3
    lr, hr = SuperResolutionFolderDataset(tmp_path, scale=3)[0]
    assert tuple(hr.shape) == (3, 18, 21) and tuple(lr.shape) == (3, 6, 7)
    pixels = torch.from_numpy(np.array(Image.open(tmp_path / "a.png"))).permute(2, 0, 1)[:, :18, :21]
    assert torch.equal(hr, pixels.float() / 255)
    expected = F.interpolate(pixels[None].float(), size=(6, 7), mode="bicubic", antialias=True)[0]
    assert torch.equal(lr, expected.round().clamp(0, 255) / 255)
    assert torch.equal((lr * 255).round(), lr * 255)  # quantised like a saved LR PNG


def test_sr_modes_and_small_images(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 40, dtype=np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.zeros((8, 8, 4), dtype=np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(tmp_path / "deep.png")
    dataset = SuperResolutionFolderDataset(tmp_path, scale=2)
    for i in range(3):
        lr, hr = dataset[i]
        assert tuple(lr.shape) == (3, 4, 4) and tuple(hr.shape) == (3, 8, 8)
    assert float(dataset[0][1].max()) == 1.0  # 16-bit white scaled, not clipped
    with pytest.raises(EfficientViTError) as info:
        SuperResolutionFolderDataset(tmp_path, scale=9)[0]
    assert str(info.value).startswith(str(tmp_path / "deep.png")) and "scale" in str(info.value)


def test_sr_transform_too_small_names_file(tmp_path: Path) -> None:
    from efficientvit.data.transforms import super_resolution_train_transform

    _write_rgb(tmp_path / "train" / "a.png", 8, 8)
    dataset = SuperResolutionFolderDataset(
        tmp_path, "train", scale=2, transform=super_resolution_train_transform(16)
    )
    with pytest.raises(EfficientViTError) as info:
        dataset[0]
    assert str(info.value).startswith(str(tmp_path / "train" / "a.png")) and "16x16" in str(info.value)


def test_sr_decodes_each_image_once_within_its_cache_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import efficientvit.data.super_resolution as sr_data
    from efficientvit.data.transforms import super_resolution_train_transform

    for name in ("a", "b"):
        _write_rgb(tmp_path / f"{name}.png", 16, 16)
    decoded: list[Path] = []
    load_image = sr_data.load_image

    def counting_load(path: Path) -> torch.Tensor:
        decoded.append(Path(path))
        return load_image(path)

    monkeypatch.setattr(sr_data, "load_image", counting_load)
    crops = super_resolution_train_transform(8)
    cached = SuperResolutionFolderDataset(tmp_path, scale=2, transform=crops)
    for _ in range(5):
        assert cached[0][1].shape == cached[1][1].shape == (3, 8, 8)
    assert len(decoded) == 2  # one decode per image
    untransformed = SuperResolutionFolderDataset(tmp_path, scale=2)
    item = untransformed[0][1]
    reference = item.clone()
    item.zero_()  # items are copies: writing into one changes no cached image
    assert torch.equal(untransformed[0][1], reference)
    decoded.clear()
    one_image = 3 * 16 * 16  # uint8 bytes
    budget = SuperResolutionFolderDataset(tmp_path, scale=2, cache_bytes=one_image)
    for _ in range(3):
        budget[0], budget[1]
    assert len(decoded) == 1 + 3  # the first image cached, the second decoded every time
    with pytest.raises(ValueError, match="cache_bytes"):
        SuperResolutionFolderDataset(tmp_path, scale=2, cache_bytes=-1)


# ----------------------------------------------------------------------------------------------------------
# COCO instances


def test_coco_instances(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "coco", num_train=3, num_val=0)
    annotations = root / "annotations" / "instances_train2017.json"
    dataset = CocoInstanceDataset(root / "train2017", annotations)
    assert len(dataset) == 3 and dataset.categories == {1: "disc", 2: "rectangle", 3: "triangle"}
    image, target = dataset[0]
    n = len(target["category_ids"])
    assert isinstance(image, tv_tensors.Image) and tuple(image.shape) == (3, *SIZE)
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].dtype == torch.float32
    assert tuple(target["boxes"].shape) == (n, 4) and n >= 1
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].dtype == torch.uint8
    assert tuple(target["masks"].shape) == (n, *SIZE)
    assert target["category_ids"].dtype == torch.int64 and target["image_id"] == 1
    for box, mask in zip(target["boxes"], target["masks"], strict=True):
        ys, xs = torch.nonzero(mask, as_tuple=True)
        assert abs(float(xs.min()) - float(box[0])) <= 1 and abs(float(xs.max()) + 1 - float(box[2])) <= 1
        assert abs(float(ys.min()) - float(box[1])) <= 1 and abs(float(ys.max()) + 1 - float(box[3])) <= 1

    content = json.loads(annotations.read_text())
    first = [a for a in content["annotations"] if a["image_id"] == 1]
    first[0]["iscrowd"] = 1
    annotations.write_text(json.dumps(content))
    _, crowdless = CocoInstanceDataset(root / "train2017", annotations)[0]
    assert len(crowdless["category_ids"]) == n - 1

    images, targets = collate_instances([dataset[0], dataset[1]])
    assert len(images) == len(targets) == 2 and targets[1]["image_id"] == 2


def test_coco_errors(tmp_path: Path) -> None:
    root = _synthetic(tmp_path, "coco", num_train=1, num_val=0)
    with pytest.raises(EfficientViTError, match="no such annotation file"):
        CocoInstanceDataset(root / "train2017", root / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(EfficientViTError, match=r"broken\.json"):
        CocoInstanceDataset(root / "train2017", broken)
    image = next((root / "train2017").iterdir())
    _corrupt(image)
    dataset = CocoInstanceDataset(root / "train2017", root / "annotations" / "instances_train2017.json")
    with pytest.raises(EfficientViTError, match=image.name):
        dataset[0]
