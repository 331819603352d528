"""The registry: names, metadata, overrides and helpful errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from efficientvit import EfficientViTError, create_model, get_model_info, list_models

MANIFESTS = Path(__file__).parent / "reference" / "manifests"


def test_official_names_and_patterns() -> None:
    """The official models are exactly those with a reference manifest from the official code; the others
    are our super-resolution models."""
    names = list_models()
    assert names == sorted(names)
    official = {name for name in names if get_model_info(name).official}
    assert official == {path.stem for path in MANIFESTS.glob("*.json")}
    assert {get_model_info(name).task for name in set(names) - official} == {"sr"}
    assert "efficientvit-l3-r384" in names and "efficientvit-seg-l2-ade20k" in names
    assert list_models("efficientvit-seg-*-ade20k") == [
        f"efficientvit-seg-{s}-ade20k" for s in ("b1", "b2", "b3", "l1", "l2")
    ]
    assert list_models("nothing*") == []


def test_metadata_per_dataset() -> None:
    cityscapes = get_model_info("efficientvit-seg-b1-cityscapes")
    assert cityscapes.resolution == (1024, 2048) and cityscapes.num_classes == 19
    assert len(cityscapes.class_names) == len(cityscapes.palette) == 19
    ade20k = get_model_info("efficientvit-seg-l2-ade20k")
    assert ade20k.resolution == (512, 512) and len(ade20k.class_names) == len(ade20k.palette) == 150
    classifier = get_model_info("efficientvit-b2-r288")
    assert classifier.resolution == (288, 288) and len(classifier.class_names) == 1000
    assert str(classifier.checkpoint) == "hf://han-cai/efficientvit-cls/efficientvit_b2_r288.pt"
    assert get_model_info("efficientvit-b2").checkpoint is None
    sam = get_model_info("efficientvit-sam-xl1")
    assert sam.task == "sam" and sam.resolution == (1024, 1024) and sam.num_classes == 0
    assert str(sam.checkpoint) == "hf://mit-han-lab/efficientvit-sam/efficientvit_sam_xl1.pt"


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(EfficientViTError, match="did you mean efficientvit-b1"):
        create_model("efficientvit-b1-r225")


def test_overrides_replace_config_fields_and_typos_raise() -> None:
    model = create_model("efficientvit-b0", num_classes=10, dropout=0.1)
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 10)
    assert model.info.num_classes == 10
    segmenter = create_model("efficientvit-seg-b0-cityscapes", num_classes=3)
    assert segmenter(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 8, 8)
    with pytest.raises(TypeError, match="num_clases"):
        create_model("efficientvit-b0", num_clases=10)


def test_super_resolution_entries_and_overrides() -> None:
    info = get_model_info("efficientvit-sr-full-x3")
    assert info.task == "sr" and info.scale == 3 and info.head is None and not info.official
    assert info.resolution == (240, 427) and info.checkpoint is None
    model = create_model("efficientvit-sr-full-x3", scale=2, depth=1)
    assert model.info.scale == 2 and model(torch.zeros(1, 3, 5, 6)).shape == (1, 3, 10, 12)
    with pytest.raises(TypeError, match="num_classes"):
        create_model("efficientvit-sr-full-x2", num_classes=3)


def test_models_are_built_in_eval_mode() -> None:
    assert not create_model("efficientvit-b0").training


def test_an_override_named_in_both_configs_must_say_its_part() -> None:
    """``expand_ratio`` is a field of the B backbone and of the segmentation head: given bare it would change
    both, so it raises and names the per-part spellings."""
    with pytest.raises(TypeError, match=r"backbone_expand_ratio= or head_expand_ratio="):
        create_model("efficientvit-seg-b0-cityscapes", expand_ratio=2)
    default = get_model_info("efficientvit-seg-b0-cityscapes")
    head_only = create_model("efficientvit-seg-b0-cityscapes", head_expand_ratio=2).info
    assert head_only.head.expand_ratio == 2 and head_only.backbone == default.backbone
    backbone_only = create_model("efficientvit-seg-b0-cityscapes", backbone_expand_ratio=2).info
    assert backbone_only.backbone.expand_ratio == 2 and backbone_only.head == default.head
    with pytest.raises(TypeError, match="unknown override"):
        create_model("efficientvit-seg-b0-cityscapes", head_depths=(1, 1))
