"""ONNX export checked in ONNX Runtime: the exported graphs reproduce the official golden outputs, keep
LiteMLA's epsilon, run at other batch sizes and resolutions, and carry the model's metadata."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from efficientvit import EfficientViTError, create_model
from efficientvit.export import (
    OnnxRuntimeModel,
    SamPromptDecoder,
    count_attention_epsilons,
    export_onnx,
)
from efficientvit.export.onnx import _metadata
from efficientvit.export.onnxruntime import _info_from_metadata
from efficientvit.inference.classification import classify
from efficientvit.layers import LiteMLA
from efficientvit.reference import golden_input, golden_tolerance

GOLDEN = Path(__file__).parents[1] / "reference" / "golden"
# The prompts of the SAM full-forward golden cases (1024x1024 frame): two clicks, and a box.
POINTS = torch.tensor([[[300.0, 400.0], [700.0, 250.0]]])
LABELS = torch.tensor([[1, 0]])
BOX = torch.tensor([[150.0, 200.0, 800.0, 900.0]])


def _golden(case: str) -> tuple[list[int], dict[str, np.ndarray]]:
    shape = json.loads((GOLDEN / f"{case}.json").read_text())["input"]["shape"]
    return shape, dict(np.load(GOLDEN / f"{case}.npz"))


def _assert_close(ours: torch.Tensor, expected: torch.Tensor | np.ndarray) -> None:
    """Within the golden tolerance ``1e-4 * max|expected| + 1e-5``."""
    expected = torch.as_tensor(expected)
    assert ours.shape == expected.shape
    error = (ours - expected).abs().max().item()
    assert error <= golden_tolerance(expected), f"max |diff| {error:.3g}"


def _finite(*outputs: torch.Tensor) -> bool:
    return all(torch.isfinite(out).all().item() for out in outputs)


@pytest.fixture(scope="module")
def build(official_checkpoint: Callable[[str], Path]) -> Callable[[str], nn.Module]:
    """Golden-weight models, built once per module."""
    cache: dict[str, nn.Module] = {}

    def make(name: str) -> nn.Module:
        if name not in cache:
            cache[name] = create_model(name, weights=official_checkpoint(name))
        return cache[name]

    return make


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def classifier(build: Callable[[str], nn.Module], onnx_dir: Path) -> tuple[nn.Module, OnnxRuntimeModel]:
    """A fixed-shape export (the segmenter covers dynamic height and width, slower to export)."""
    model = build("efficientvit-b1")
    return model, OnnxRuntimeModel(export_onnx(model, onnx_dir / "b1.onnx", dynamic=False), threads=2)


@pytest.fixture(scope="module")
def segmenter(build: Callable[[str], nn.Module], onnx_dir: Path) -> tuple[nn.Module, OnnxRuntimeModel]:
    model = build("efficientvit-seg-b0-cityscapes")
    path = export_onnx(model, onnx_dir / "seg-b0.onnx", resolution=(256, 512))
    return model, OnnxRuntimeModel(path, threads=2)


@pytest.fixture(scope="module")
def sam(build: Callable[[str], nn.Module]) -> nn.Module:
    return build("efficientvit-sam-l0")


def test_classifier_reproduces_golden_in_onnxruntime(classifier: tuple[nn.Module, OnnxRuntimeModel]) -> None:
    model, runtime = classifier
    shape, golden = _golden("efficientvit-b1")
    _assert_close(runtime(golden_input(shape)), golden["logits"])
    assert _finite(runtime(torch.zeros(shape)))
    assert runtime.info == model.info and runtime.graph == "classifier"
    assert runtime.session.get_inputs()[0].shape == [1, 3, 224, 224]


def test_segmenter_reproduces_golden_in_onnxruntime(segmenter: tuple[nn.Module, OnnxRuntimeModel]) -> None:
    model, runtime = segmenter
    shape, golden = _golden("efficientvit-seg-b0-cityscapes")
    _assert_close(runtime(golden_input(shape)), golden["logits"])
    assert _finite(runtime(torch.zeros(shape)))
    assert runtime.info == model.info and runtime.size_divisor == 32

    assert runtime.session.get_inputs()[0].shape == ["batch", 3, "32*height_div32", "32*width_div32"]
    x = torch.randn(2, 3, 160, 224)  # another batch size; the smallest dynamic side, and another width
    with torch.no_grad():
        _assert_close(runtime(x), model(x))


def test_sam_image_encoder_reproduces_golden_in_onnxruntime(sam: nn.Module, onnx_dir: Path) -> None:
    path = export_onnx(sam, onnx_dir / "sam-l0-encoder.onnx")  # at info.resolution, 512x512
    runtime = OnnxRuntimeModel(path, threads=2)
    shape, golden = _golden("efficientvit-sam-l0")
    _assert_close(runtime(golden_input(shape)), golden["image_embeddings"])
    assert _finite(runtime(torch.zeros(shape)))
    assert runtime.graph == "sam_image_encoder" and runtime.info == sam.info
    assert [(i.name, i.shape) for i in runtime.session.get_inputs()] == [("images", ["batch", 3, 512, 512])]


def _prompts(case: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The golden case's prompts as decoder inputs: a box becomes two corner points labelled 2 and 3;
    without a box the prompt encoder's padding point (label -1) is appended."""
    if "box" in case.split("_"):
        return torch.cat([POINTS, BOX.reshape(1, 2, 2)], 1), torch.cat([LABELS, torch.tensor([[2, 3]])], 1)
    return torch.cat([POINTS, torch.zeros(1, 1, 2)], 1), torch.cat([LABELS, torch.tensor([[-1]])], 1)


def _no_mask(sets: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(sets, 1, 256, 256), torch.zeros(1)


def test_prompt_decoder_equals_the_segment_anything_modules(sam: nn.Module) -> None:
    """``SamPromptDecoder`` with a mask input and padding point, single mask, against the modules it wraps
    (the golden cases below cover boxes and no mask input)."""
    embeddings, mask = torch.randn(1, 256, 64, 64), torch.randn(1, 1, 256, 256)
    with torch.no_grad():
        sparse, dense = sam.prompt_encoder(points=(POINTS, LABELS), boxes=None, masks=mask)
        expected = sam.mask_decoder(
            image_embeddings=embeddings,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        ours = SamPromptDecoder(sam, multimask_output=False)(
            embeddings, *_prompts("pts_only"), mask, torch.ones(1)
        )
    for a, b in zip(ours, expected, strict=True):
        _assert_close(a, b)


def test_sam_prompt_decoder_reproduces_golden(sam: nn.Module, onnx_dir: Path) -> None:
    """Every golden prompt case through ``SamPromptDecoder`` in PyTorch; the multimask ones also through its
    ONNX export (one export keeps the test short: the single-mask graph differs only in its last slice)."""
    _, encoder_golden = _golden("efficientvit-sam-l0")
    embeddings = torch.from_numpy(encoder_golden["image_embeddings"])
    _, golden = _golden("efficientvit-sam-l0__full_forward")
    cases = sorted({key.split(".")[0] for key in golden})
    assert len(cases) == 3
    decoder = SamPromptDecoder(sam, multimask_output=True)
    runtime = OnnxRuntimeModel(export_onnx(decoder, onnx_dir / "sam-l0-decoder.onnx"), threads=2)
    assert runtime.graph == "sam_prompt_decoder" and runtime.info == sam.info
    for case in cases:
        multimask = case.endswith("multi")
        with torch.no_grad():
            outputs = [
                SamPromptDecoder(sam, multimask_output=multimask)(embeddings, *_prompts(case), *_no_mask())
            ]
        if multimask:  # int64 labels are cast to the graph's float input
            outputs.append(runtime(embeddings, *_prompts(case), *_no_mask()))
            assert _finite(*runtime(torch.zeros_like(embeddings), *_prompts(case), *_no_mask()))
        for masks, iou in outputs:
            _assert_close(masks[None], golden[f"{case}.low_res_masks"])
            _assert_close(iou[None], golden[f"{case}.iou_predictions"])

    # Three prompt sets of five points each, with a mask input: the dynamic dimensions.
    points = torch.rand(3, 5, 2, generator=torch.Generator().manual_seed(0)) * 1024
    labels = torch.tensor([[1.0, 0.0, -1.0, 2.0, 3.0]]).expand(3, 5)
    inputs = (embeddings, points, labels, torch.randn(3, 1, 256, 256), torch.ones(1))
    ours = runtime(*inputs)
    with torch.no_grad():
        expected = decoder(*inputs)
    assert ours[0].shape == (3, 3, 256, 256)
    for a, b in zip(ours, expected, strict=True):
        _assert_close(a, b)


def test_attention_epsilon_survives_export(
    classifier: tuple[nn.Module, OnnxRuntimeModel], tmp_path: Path
) -> None:
    """Every LiteMLA adds 1e-15 to its normaliser. With zero Q/K projections the ReLU kernels are all zero,
    so attention is 0 / (0 + eps) = 0 and the model stays finite; without the epsilon it would be 0/0 = NaN.
    """
    model, runtime = classifier
    proto = onnx.load(str(runtime.path))
    attention = [name for name, m in model.named_modules() if isinstance(m, LiteMLA)]
    assert count_attention_epsilons(proto) == len(attention) > 0

    zeroed = create_model("efficientvit-b1")
    zeroed.load_state_dict(model.state_dict())
    for name in attention:
        nn.init.zeros_(zeroed.get_submodule(name).qkv.conv.weight)
        weight = next(i for i in proto.graph.initializer if i.name == f"{name}.qkv.conv.weight")
        weight.CopyFrom(
            onnx.numpy_helper.from_array(np.zeros_like(onnx.numpy_helper.to_array(weight)), weight.name)
        )
    onnx.save(proto, tmp_path / "zeroed.onnx")
    x = golden_input((1, 3, 224, 224))
    ours = OnnxRuntimeModel(tmp_path / "zeroed.onnx", threads=2)(x)
    with torch.no_grad():
        expected = zeroed(x)
    assert _finite(expected, ours)
    _assert_close(ours, expected)


def test_classify_runs_on_the_onnx_model(classifier: tuple[nn.Module, OnnxRuntimeModel]) -> None:
    model, runtime = classifier
    images = [
        torch.randint(0, 256, (3, 240, 320), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ]
    ours, expected = classify(runtime, images, top_k=3), classify(model, images, top_k=3)
    assert [label for label, _ in ours[0]] == [label for label, _ in expected[0]]
    assert np.allclose([p for _, p in ours[0]], [p for _, p in expected[0]], atol=1e-5)


def test_metadata_restores_overridden_info() -> None:
    info = create_model("efficientvit-seg-b0-cityscapes", num_classes=5, head_expand_ratio=2).info
    metadata = {
        k.removeprefix("efficientvit."): v
        for k, v in _metadata(info, "segmenter", {"resolution": None}).items()
    }
    assert json.loads(metadata["overrides"])["head"] == {"num_classes": 5, "expand_ratio": 2}
    assert _info_from_metadata(metadata) == info
    assert _info_from_metadata({"graph": "classifier"}) is None


def test_metadata_restores_a_fine_tuned_segmenters_class_names_and_palette() -> None:
    names, colours = ("sky", "road", "car", "tree"), ((0, 0, 255), (90, 90, 90), (255, 0, 0), (0, 200, 0))
    model = create_model("efficientvit-seg-b0-cityscapes", num_classes=4, class_names=names, palette=colours)
    spec = {"resolution": None}
    metadata = {
        k.removeprefix("efficientvit."): v for k, v in _metadata(model.info, "segmenter", spec).items()
    }
    restored = _info_from_metadata(metadata)
    assert restored is not None
    assert restored.class_names == names and restored.palette == colours and restored.num_classes == 4


def test_export_rejects_what_it_cannot_export(sam: nn.Module, tmp_path: Path) -> None:
    with pytest.raises(EfficientViTError, match="cannot export"):
        export_onnx(sam.image_encoder, tmp_path / "x.onnx")
    with pytest.raises(EfficientViTError, match="multiples of 32"):
        export_onnx(create_model("efficientvit-b0"), tmp_path / "x.onnx", resolution=(224, 200))
    assert not (tmp_path / "x.onnx").exists()


def test_onnxruntime_model_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EfficientViTError, match="not found"):
        OnnxRuntimeModel(tmp_path / "missing.onnx")
    (tmp_path / "text.onnx").write_text("not a model")
    with pytest.raises(EfficientViTError, match="not a loadable ONNX model"):
        OnnxRuntimeModel(tmp_path / "text.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(EfficientViTError, match=r"needs onnxruntime: pip install 'efficientvit\[onnx\]'"):
        OnnxRuntimeModel(tmp_path / "text.onnx")


def test_a_model_with_other_input_channels_exports_with_them(tmp_path: Path) -> None:
    model = create_model("efficientvit-b0", in_chans=1)
    runtime = OnnxRuntimeModel(export_onnx(model, tmp_path / "gray.onnx", resolution=(64, 64), dynamic=False))
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(runtime(x), model(x), rtol=1e-4, atol=1e-5)
