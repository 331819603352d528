"""`classify` / `segment --backend ...`: the same answers as eager PyTorch, from an exported file or from the
export cache, and one-line errors for files that cannot serve the command."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image
from torch import nn

from efficientvit import create_model
from efficientvit.cli import main
from efficientvit.export.onnx import METADATA_PREFIX
from efficientvit.runtime import cache_root
from efficientvit.weights import save_safetensors

CLS = "efficientvit-b0"
SEG = "efficientvit-seg-b0-cityscapes"
IMAGES = {"wide.png": (200, 300), "tall.png": (70, 45), "tiny.png": (1, 1)}


def random_weights(directory: Path, name: str) -> Path:
    """Seeded random weights written with ``save_safetensors``. Their scale (variance 1.5 / fan-in) lies
    between the default init, after which every pixel gets the same label, and He's 2 / fan-in, after which
    the segmenter's logits reach 1e4: outputs that depend on the input, so agreement means something."""
    torch.manual_seed(0)
    model = create_model(name)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.normal_(module.weight, std=(1.5 / module.weight[0].numel()) ** 0.5)
            if module.bias is not None:
                nn.init.normal_(module.bias, std=0.1)
    return save_safetensors(model, directory / f"{name}.safetensors")


def run_cli(*args: object) -> tuple[int, str, str]:
    """``main(args)`` with stdout and stderr captured (for module-scoped fixtures, where capsys is not)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with the weights and test images."""
    directory = tmp_path_factory.mktemp("backend")
    rng = np.random.default_rng(0)
    for name, size in IMAGES.items():
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(directory / name)
    yield directory


@pytest.fixture(scope="module")
def weights(root: Path) -> dict[str, Path]:
    return {name: random_weights(root, name) for name in (CLS, SEG)}


@pytest.fixture(scope="module")
def seg_onnx(root: Path, weights: dict[str, Path]) -> tuple[Path, str]:
    """The segmenter exported with dynamic sizes at a small resolution by `efficientvit export`."""
    path = root / "seg.onnx"
    code, out, err = run_cli("export", "-m", SEG, "-w", weights[SEG], "-o", path, "--resolution", "160x224")
    assert code == 0, err
    return path, out


def fake_onnx(path: Path, shape: list[int | str], metadata: dict[str, str]) -> Path:
    """An identity graph with an ``images`` input of ``shape`` and the given efficientvit metadata."""
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["logits"])], "fake", [images], [logits]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    helper.set_model_props(model, {METADATA_PREFIX + k: v for k, v in metadata.items()})
    onnx.save(model, path)
    return path


def test_exported_segmenter_has_dynamic_sizes(seg_onnx: tuple[Path, str]) -> None:
    path, out = seg_onnx
    assert f"{path}: {SEG}," in out and "dynamic shapes" in out
    assert "images  [batch, 3, 32*height_div32, 32*width_div32]  (checked: 1x3x160x224)" in out
    difference = float(out.split("max |ONNX Runtime - PyTorch| = ")[1].split()[0])
    assert difference < 1e-4


@pytest.mark.parametrize("short_side", [160, 64])  # 64: below the graph's smallest traced side (160)
def test_segment_backends_agree(cli, root: Path, weights, seg_onnx, short_side: int) -> None:
    labels: dict[str, dict[str, np.ndarray]] = {}
    for backend in ("eager", "fused", "onnxruntime"):
        out_dir = root / f"seg-{backend}-{short_side}"
        extra = ["--onnx", seg_onnx[0]] if backend == "onnxruntime" else []
        args = ("segment", *IMAGES, "-m", SEG, "-w", weights[SEG], "--backend", backend, *extra)
        result = cli(
            *(root / a if a in IMAGES else a for a in args), "-o", out_dir, "--short-side", short_side
        )
        assert result.code == 0, result.err
        labels[backend] = {n: np.asarray(Image.open(out_dir / f"{Path(n).stem}_labels.png")) for n in IMAGES}
    for backend in ("fused", "onnxruntime"):
        for name, size in IMAGES.items():
            ours, reference = labels[backend][name], labels["eager"][name]
            assert ours.shape == reference.shape == size
            assert (ours == reference).mean() >= 0.999, (backend, name)
    assert len(np.unique(labels["eager"]["wide.png"])) > 1  # not a constant map: the check has teeth


def test_classify_backends_agree_and_the_export_is_cached(cli, root: Path, weights) -> None:
    images = [root / name for name in IMAGES]
    args = ("classify", *images, "-m", CLS, "-w", weights[CLS], "--json", "--batch-size", "2")
    reference = cli(*args, "--backend", "eager")
    assert reference.code == 0, reference.err

    first = cli(*args, "--backend", "onnxruntime")  # exports into the cache, with a note
    assert first.code == 0, first.err
    entries = list((cache_root() / "onnx").glob(f"{CLS}-classifier-*"))
    assert len(entries) == 1 and (entries[0] / "model.onnx").is_file()
    assert "exporting it" in first.err and str(entries[0]) in first.err
    again = cli(*args, "--backend", "onnxruntime")  # a second process reuses it, silently
    assert again.code == 0 and again.err == ""

    expected = json.loads(reference.out)
    for result in (first, again):
        for ours, theirs in zip(json.loads(result.out), expected, strict=True):
            assert ours["image"] == theirs["image"]
            assert [p["label"] for p in ours["predictions"]] == [p["label"] for p in theirs["predictions"]]
            for p, q in zip(ours["predictions"], theirs["predictions"], strict=True):
                assert abs(p["probability"] - q["probability"]) <= 1e-4
    top = [entry["predictions"][0]["probability"] for entry in expected]
    assert max(top) - min(top) > 1e-4  # the output depends on the image: the check has teeth


def test_a_graph_of_another_kind_or_model_is_refused(cli, root: Path, seg_onnx) -> None:
    image, path = root / "wide.png", seg_onnx[0]
    result = cli("classify", image, "-m", CLS, "--onnx", path)
    result.assert_user_error(str(path), "segmenter", CLS)
    other = "efficientvit-seg-b1-cityscapes"
    result = cli("segment", image, "-m", other, "--onnx", path, "-o", root / "never")
    result.assert_user_error(str(path), f"exported from {SEG}, not {other}", f"--model {SEG}")
    assert not (root / "never").exists()


def test_static_or_unlabelled_files_are_refused(cli, root: Path, tmp_path: Path) -> None:
    image = root / "wide.png"
    static_seg = fake_onnx(tmp_path / "s.onnx", [1, 3, 160, 224], {"graph": "segmenter", "model": SEG})
    result = cli("segment", image, "-m", SEG, "--onnx", static_seg, "-o", tmp_path / "out")
    result.assert_user_error(str(static_seg), "160x224", "without --static")
    small_cls = fake_onnx(tmp_path / "c.onnx", [1, 3, 160, 160], {"graph": "classifier", "model": CLS})
    result = cli("classify", image, "-m", CLS, "--onnx", small_cls)
    result.assert_user_error(str(small_cls), "160x160", "224x224", "--resolution 224x224")
    bare = fake_onnx(tmp_path / "bare.onnx", ["batch", 3, "h", "w"], {})
    cli("classify", image, "-m", CLS, "--onnx", bare).assert_user_error(str(bare), "efficientvit export")


def test_backend_argument_errors(cli, root: Path, tmp_path: Path) -> None:
    image, path = root / "wide.png", tmp_path / "x.onnx"
    result = cli("classify", image, "-m", CLS, "--backend", "eager", "--onnx", path)
    result.assert_user_error("--onnx", "--backend onnxruntime")
    cli("classify", image, "-m", CLS, "--onnx", path).assert_user_error(str(path), "not found")
    missing = tmp_path / "none.safetensors"
    result = cli("classify", image, "-m", CLS, "-w", missing, "--backend", "onnxruntime")
    result.assert_user_error(str(missing), "no such file")
    if not torch.backends.mps.is_available():
        result = cli("classify", image, "-m", CLS, "--backend", "onnxruntime", "--device", "mps")
        result.assert_user_error("device mps", "not available")
    assert cli("classify", image, "-m", CLS, "--backend", "tensorrt").code == 2
    assert cli("classify", image, "-m", CLS, "--backend", "pytorch").code == 2
