"""Checkpoints in timm's layout (the ``timm/efficientvit_*`` hub repositories) load unchanged: same logits as
timm's model on the same weights, every timm B/L classifier converts key for key, hub references resolve."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from efficientvit import EfficientViTError, create_model
from efficientvit.timm_checkpoints import TIMM_MODELS, convert_timm_state_dict, signature
from efficientvit.weights import read_state_dict

timm = pytest.importorskip("timm")


def _assert_same_logits(timm_model: torch.nn.Module, ours: torch.nn.Module, resolution: int) -> None:
    images = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = timm_model(images), ours(images)
    assert actual.shape == expected.shape
    # The weights are not degenerate: the two images get clearly different logits.
    assert (expected[0] - expected[1]).abs().max() > 1e-2
    assert (actual - expected).abs().max() <= 1e-5 * expected.abs().max()


@pytest.mark.parametrize(
    ("timm_name", "name", "resolution"),
    [
        # 7x7 tokens at stride 32, more than the head dimension (16): both models run linear attention.
        ("efficientvit_b1", "efficientvit-b1-r224", 224),
        # 4x4 and 3x3 tokens, at most the head dimension (16, 32): ours switches to the quadratic form as the
        # official model does, timm stays linear; the two agree all the same.
        ("efficientvit_b0", "efficientvit-b0-r224", 128),
        ("efficientvit_l1", "efficientvit-l1-r224", 96),
    ],
)
def test_timm_safetensors_reproduce_timm_logits(
    timm_checkpoint, timm_name: str, name: str, resolution: int
) -> None:
    timm_model, folder = timm_checkpoint(timm_name)
    ours = create_model(name, weights=folder / "model.safetensors")
    _assert_same_logits(timm_model, ours, resolution)


def test_timm_pytorch_model_bin_loads_too(timm_checkpoint, tmp_path: Path) -> None:
    from timm.models import save_for_hf

    timm_model, _ = timm_checkpoint("efficientvit_b0")
    save_for_hf(timm_model, str(tmp_path), safe_serialization=False)  # timm's legacy pytorch_model.bin
    ours = create_model("efficientvit-b0", weights=tmp_path / "pytorch_model.bin")
    _assert_same_logits(timm_model, ours, 128)


def test_fine_tuned_timm_checkpoint_loads_with_its_class_count(timm_checkpoint) -> None:
    timm_model, folder = timm_checkpoint("efficientvit_b0", num_classes=10)
    with pytest.raises(EfficientViTError, match=r"10 classes.*num_classes=10") as error:
        create_model("efficientvit-b0-r224", weights=folder / "model.safetensors")
    assert "\n" not in str(error.value)
    ours = create_model("efficientvit-b0-r224", weights=folder / "model.safetensors", num_classes=10)
    _assert_same_logits(timm_model, ours, 128)


def test_fine_tuning_starts_from_a_timm_checkpoint(timm_checkpoint) -> None:
    from efficientvit.train.finetune import load_pretrained

    timm_model, folder = timm_checkpoint("efficientvit_b0")
    model = create_model("efficientvit-b0", num_classes=7)
    report = load_pretrained(model, folder / "model.safetensors", model_name="efficientvit-b0")
    assert [entry.split(" ")[0] for entry in report.skipped] == [
        "head.op_list.3.linear.weight",
        "head.op_list.3.linear.bias",
    ]
    assert report.unused == []
    # everything before the classifier is timm's: the pre-logits features agree
    images = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = timm_model.forward_head(timm_model.forward_features(images), pre_logits=True)
        actual = model.backbone(images)["stage4"]
        for layer in model.head.op_list[:3]:  # conv, pool, linear + norm + act: all but the classifier
            actual = layer(actual)
    assert actual.shape == expected.shape == (2, 1280)
    assert (actual - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_timm_names_match_our_families() -> None:
    assert timm.list_models("efficientvit_[bl]*") == [f"efficientvit_{size}" for size in TIMM_MODELS]


@pytest.mark.parametrize("size", TIMM_MODELS)
def test_every_timm_classifier_converts_to_our_keys_and_shapes(size: str) -> None:
    with torch.device("meta"):
        timm_state = timm.create_model(f"efficientvit_{size}").state_dict()
        ours = create_model(f"efficientvit-{size}").state_dict()
    items = list(timm_state.items())
    random.Random(0).shuffle(items)  # file order means nothing (safetensors stores keys sorted)
    converted, architecture = convert_timm_state_dict(dict(items), source="timm")
    assert sorted(converted) == sorted(ours)
    assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in ours.items()}
    assert architecture.size == size and str(architecture) == f"timm's efficientvit_{size}"
    assert architecture == signature(ours)


def test_checkpoint_of_another_size_names_both(timm_checkpoint) -> None:
    _, folder = timm_checkpoint("efficientvit_b0")
    with pytest.raises(EfficientViTError) as error:
        create_model("efficientvit-b1-r224", weights=folder / "model.safetensors")
    message = str(error.value)
    assert "timm's efficientvit_b0" in message and "efficientvit-b1-r224" in message
    assert "EfficientViT-B1" in message and "efficientvit-b0-r224" in message and "\n" not in message


def test_checkpoint_into_a_segmenter_says_it_is_a_classifier(timm_checkpoint) -> None:
    _, folder = timm_checkpoint("efficientvit_b0")
    with pytest.raises(EfficientViTError, match="no classification head") as error:
        create_model("efficientvit-seg-b0-cityscapes", weights=folder / "model.safetensors")
    assert "timm's efficientvit_b0" in str(error.value)


def test_microsoft_efficientvit_is_named_as_a_different_architecture(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file(timm.create_model("efficientvit_m0").state_dict(), str(path))
    with pytest.raises(
        EfficientViTError, match=r"efficientvit_m\*.*Microsoft.*different architecture"
    ) as error:
        create_model("efficientvit-b0-r224", weights=path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("extra_key", "pattern"),
    [
        # inside a block timm has: renamed, then named in the file's spelling as unexpected
        (
            "stages.0.blocks.0.adapter.weight",
            r"not exactly those.*1 unexpected keys \(stages\.0\.blocks\.0\.adapter",
        ),
        # a module timm's EfficientViT has not
        (
            "head.norm.weight",
            r"1 key\(s\) outside timm's efficientvit_b0-b3 / l1-l3 classifiers \(head\.norm\.weight\)",
        ),
    ],
)
def test_other_keys_in_timm_layout_are_one_line(
    timm_checkpoint, tmp_path: Path, extra_key: str, pattern: str
) -> None:
    _, folder = timm_checkpoint("efficientvit_b0")
    state = read_state_dict(folder / "model.safetensors")
    state[extra_key] = torch.zeros(3)
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    with pytest.raises(EfficientViTError, match=pattern) as error:
        create_model("efficientvit-b0-r224", weights=path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_hf_repo_reference_resolves_to_its_model_safetensors(
    timm_checkpoint, hub_cache: Path, fill_hub_cache
) -> None:
    timm_model, folder = timm_checkpoint("efficientvit_b0")
    fill_hub_cache(hub_cache, "timm/efficientvit_b0.r224_in1k", folder)
    for reference in (
        "hf://timm/efficientvit_b0.r224_in1k",
        "hf://timm/efficientvit_b0.r224_in1k/model.safetensors",
    ):
        _assert_same_logits(timm_model, create_model("efficientvit-b0-r224", weights=reference), 128)


def test_hf_repo_reference_offline_without_cache(hub_cache: Path) -> None:
    with pytest.raises(EfficientViTError, match="offline") as error:
        create_model("efficientvit-b1-r224", weights="hf://timm/efficientvit_b1.r224_in1k")
    assert "hf://timm/efficientvit_b1.r224_in1k/model.safetensors" in str(error.value)


_WITHOUT_TIMM = """
import json, sys
import torch
sys.modules["timm"] = None  # any `import timm` from here on raises ImportError
from efficientvit import create_model
model = create_model("efficientvit-b0-r224", weights=sys.argv[1])
images = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    print(json.dumps(model(images).tolist()))
"""


def test_fresh_interpreter_without_timm_loads_an_hf_timm_repo(
    timm_checkpoint, fill_hub_cache, tmp_path: Path
) -> None:
    timm_model, folder = timm_checkpoint("efficientvit_b0")
    home = tmp_path / "hf-home"  # the hub client finds its cache through HF_HOME: $HF_HOME/hub
    fill_hub_cache(home / "hub", "timm/efficientvit_b0.r224_in1k", folder)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")}
    env |= {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    reference = "hf://timm/efficientvit_b0.r224_in1k"
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TIMM, reference], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    actual = torch.tensor(json.loads(proc.stdout))
    images = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = timm_model(images)
    assert (actual - expected).abs().max() <= 1e-5 * expected.abs().max()
