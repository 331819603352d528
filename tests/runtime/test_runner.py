"""The runtime end to end: every backend agrees with eager, ``auto`` is what users get, and a prepared runner
never runs stale weights (a replaced checkpoint, ``load_state_dict``, a damaged cache file)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from efficientvit import create_model
from efficientvit.inference import classify, segment
from efficientvit.runtime import runner as runner_module
from efficientvit.runtime import runner_for
from efficientvit.runtime.fingerprint import weights_digest
from efficientvit.weights import save_safetensors

SEG = "efficientvit-seg-b0-cityscapes"
CLS = "efficientvit-b0"
REPO = Path(__file__).parents[2]


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Weights whose outputs depend on the input (variance 1.5 / fan-in, as tests/cli/test_backend.py)."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.normal_(module.weight, std=(1.5 / module.weight[0].numel()) ** 0.5)
            if module.bias is not None:
                nn.init.normal_(module.bias, std=0.1)
    return model


def spinning(runner: runner_module.Runner) -> str:
    """The ONNX Runtime session's ``allow_spinning`` entry of a prepared runner ("" when left default)."""
    options = runner._run.session.get_session_options()  # type: ignore[union-attr]
    return options.get_session_config_entry("session.intra_op.allow_spinning")


def image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two segmenter checkpoints with different weights and files of equal size."""
    directory = tmp_path_factory.mktemp("weights")
    paths = {
        name: save_safetensors(randomise(create_model(SEG), seed), directory / f"{name}.safetensors")
        for name, seed in (("a", 0), ("b", 1))
    }
    assert paths["a"].stat().st_size == paths["b"].stat().st_size
    return paths


def test_auto_is_onnxruntime_on_a_cpu_and_agrees_with_eager(users_auto: Path, weights) -> None:
    model = create_model(SEG, weights=weights["a"])
    picture = image(96, 160)
    labels = segment(model, picture, short_side=96)
    assert runner_for(model, "segmenter").backend == "onnxruntime"
    assert spinning(runner_for(model, "segmenter")) == "0"  # PyTorch's upsampling follows the session
    reference = segment(model, picture, short_side=96, backend="eager")
    assert torch.equal(labels, reference) and len(reference.unique()) > 1
    for backend in ("fused", "onnxruntime"):
        assert torch.equal(segment(model, picture, short_side=96, backend=backend), reference), backend


def test_load_state_dict_between_two_calls_is_honoured(users_auto: Path, weights) -> None:
    model = create_model(SEG, weights=weights["a"])
    picture = image(96, 160, seed=1)
    first = segment(model, picture, short_side=96)
    model.load_state_dict(create_model(SEG, weights=weights["b"]).state_dict())
    second = segment(model, picture, short_side=96)
    assert torch.equal(second, segment(model, picture, short_side=96, backend="eager"))
    assert not torch.equal(first, second)  # the weights matter: the check has teeth
    fused = segment(model, picture, short_side=96, backend="fused")
    with torch.no_grad():
        model.head.output_ops[0].op_list[-1].conv.bias.add_(5.0 * torch.arange(19.0))  # one in-place write
    assert not torch.equal(segment(model, picture, short_side=96, backend="fused"), fused)
    # The watch is the same for every backend; fused costs no export.
    assert torch.equal(
        segment(model, picture, short_side=96, backend="fused"),
        segment(model, picture, short_side=96, backend="eager"),
    )


def test_a_truncated_cache_file_is_rebuilt(users_auto: Path, weights, capsys) -> None:
    model = create_model(SEG, weights=weights["a"])
    picture = image(64, 96, seed=2)
    segment(model, picture, short_side=64)  # the entry exists (exported by an earlier test or now)
    capsys.readouterr()
    digest = weights_digest(model)
    manifests = (users_auto / "onnx").glob(f"{SEG}-segmenter-*/manifest.json")
    (entry,) = [m.parent for m in manifests if json.loads(m.read_text())["key"]["weights"] == digest]
    onnx_file = entry / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[: onnx_file.stat().st_size // 2])
    fresh = create_model(SEG, weights=weights["a"])
    labels = segment(fresh, picture, short_side=64)
    err = capsys.readouterr().err
    assert "is unusable" in err and "truncated" in err and "exporting it" in err
    assert torch.equal(labels, segment(fresh, picture, short_side=64, backend="eager"))


def run_segment(image_path: Path, weights: Path, out: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "EFFICIENTVIT_CACHE": str(cache)}
    env.pop("EFFICIENTVIT_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "efficientvit", "segment", str(image_path), "-m", SEG, "-w", str(weights),
         "-o", str(out), "--short-side", "64"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_a_second_process_reuses_the_export_and_a_replaced_checkpoint_is_not_served_it(
    users_auto: Path, weights, tmp_path: Path
) -> None:
    photo = tmp_path / "street.png"
    Image.fromarray(image(70, 110, seed=3).permute(1, 2, 0).numpy()).save(photo)
    checkpoint = tmp_path / "ckpt.safetensors"
    checkpoint.write_bytes(weights["a"].read_bytes())
    cache = tmp_path / "cache"

    def labels(out: Path) -> np.ndarray:
        return np.asarray(Image.open(out / "street_labels.png"))

    first = run_segment(photo, checkpoint, tmp_path / "1", cache)
    assert first.returncode == 0, first.stderr
    assert "exporting it" in first.stderr
    second = run_segment(photo, checkpoint, tmp_path / "2", cache)
    assert second.returncode == 0 and "exporting" not in second.stderr, second.stderr
    assert np.array_equal(labels(tmp_path / "1"), labels(tmp_path / "2"))

    # The export of weights B may exist already (an earlier test made it): its entry is found by content.
    for entry in (users_auto / "onnx").glob(f"{SEG}-segmenter-*"):
        if not (cache / "onnx" / entry.name).exists():
            shutil.copytree(entry, cache / "onnx" / entry.name)
    stat = checkpoint.stat()
    checkpoint.write_bytes(weights["b"].read_bytes())  # another model, same size ...
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and the same modification time
    assert checkpoint.stat().st_size == stat.st_size and checkpoint.stat().st_mtime_ns == stat.st_mtime_ns
    third = run_segment(photo, checkpoint, tmp_path / "3", cache)
    assert third.returncode == 0, third.stderr
    expected = segment(create_model(SEG, weights=weights["b"]), image(70, 110, seed=3), short_side=64,
                       backend="eager")  # fmt: skip
    assert np.array_equal(labels(tmp_path / "3"), expected.numpy())
    assert not np.array_equal(labels(tmp_path / "3"), labels(tmp_path / "1"))


def test_classify_backends_agree(users_auto: Path) -> None:
    model = randomise(create_model(CLS), seed=0)
    images = [image(120, 200, seed=s) for s in range(3)]
    reference = classify(model, images, top_k=3, backend="eager")
    for backend in ("auto", "fused"):
        ours = classify(model, images, top_k=3, backend=backend)
        for a, b in zip(ours, reference, strict=True):
            assert [label for label, _ in a] == [label for label, _ in b], backend
            assert np.allclose([p for _, p in a], [p for _, p in b], rtol=1e-4, atol=1e-6), backend
    assert runner_for(model, "classifier").backend == "onnxruntime"


def test_auto_falls_back_to_fused_when_the_export_fails(
    users_auto: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no exporter today")

    monkeypatch.setattr(runner_module.Runner, "_export", broken)
    model = randomise(create_model(CLS), seed=1)
    images = [image(64, 64)]
    ours = classify(model, images, backend="auto")
    assert "running it fused in PyTorch instead" in capsys.readouterr().err
    assert runner_for(model, "classifier").backend == "fused"
    assert [lab for lab, _ in ours[0]] == [lab for lab, _ in classify(model, images, backend="eager")[0]]
    with pytest.raises(RuntimeError, match="no exporter today"):
        classify(model, images, backend="onnxruntime")


def test_environment_override_and_bad_names(monkeypatch: pytest.MonkeyPatch) -> None:
    model = create_model(CLS)
    monkeypatch.setenv("EFFICIENTVIT_BACKEND", "fused")
    classify(model, [image(32, 32)])
    assert runner_for(model, "classifier").backend == "fused"
    from efficientvit.errors import EfficientViTError

    with pytest.raises(EfficientViTError, match="not one of"):
        classify(model, [image(32, 32)], backend="tensorrt")
    monkeypatch.setenv("EFFICIENTVIT_BACKEND", "gpu-please")
    with pytest.raises(EfficientViTError, match="EFFICIENTVIT_BACKEND"):
        classify(create_model(CLS), [image(32, 32)])


def test_runners_go_with_their_model() -> None:
    import gc
    import weakref

    model = create_model(CLS)
    runner_for(model, "classifier", "eager")
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None  # the runner table holds its models weakly
