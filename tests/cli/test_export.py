"""`efficientvit export`: an ONNX file checked in ONNX Runtime with a printed report, and one-line errors for
options that cannot be exported."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import onnx
import pytest
import torch

from efficientvit import create_model
from efficientvit.cli import main
from efficientvit.cli.export import resolution
from efficientvit.export import OnnxRuntimeModel, SamPromptDecoder
from efficientvit.export.check import example_inputs
from efficientvit.weights import save_safetensors

CLS = "efficientvit-b0"
SEG = "efficientvit-seg-b0-cityscapes"


def run_cli(*args: object) -> tuple[int, str, str]:
    """``main(args)`` with stdout and stderr captured (for module-scoped fixtures, where capsys is not)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_safetensors(create_model(CLS), tmp_path_factory.mktemp("export") / "b0.safetensors")


@pytest.fixture(scope="module")
def static_export(weights: Path) -> tuple[Path, str]:
    """A fixed-shape export without fusion at an older opset (the dynamic default is exported, at more
    cost, by tests/cli/test_backend.py)."""
    path = weights.parent / "out" / "b0.onnx"
    args = ("export", "-m", CLS, "-w", weights, "-o", path, "--static", "--resolution", "160")
    code, out, err = run_cli(*args, "--no-fuse", "--opset", "18")
    assert code == 0, err
    return path, out


def test_prints_size_inputs_outputs_and_difference(static_export: tuple[Path, str]) -> None:
    path, out = static_export
    lines = out.splitlines()
    assert (
        lines[0].startswith(f"{path}: {CLS}, ")
        and " MB, opset 18, static shapes, BatchNorms kept" in lines[0]
    )
    size = float(lines[0].split(", ")[1].removesuffix(" MB"))
    assert size == pytest.approx(path.stat().st_size / 1e6, abs=0.06)
    assert lines[1].split() == ["input", "images", "[1,", "3,", "160,", "160]", "(checked:", "1x3x160x160)"]
    assert lines[2].split() == ["output", "logits", "[1,", "1000]", "(checked:", "1x1000)"]
    assert lines[3].startswith("max |ONNX Runtime - PyTorch| = ") and "random 1x3x160x160 input" in lines[3]
    assert float(lines[3].split(" = ")[1].split()[0]) < 1e-4


def test_the_file_keeps_its_options_and_metadata(static_export: tuple[Path, str]) -> None:
    path, _ = static_export
    proto = onnx.load(str(path))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [18]
    assert any(node.op_type == "BatchNormalization" for node in proto.graph.node)  # --no-fuse
    runtime = OnnxRuntimeModel(path)
    assert runtime.graph == "classifier" and runtime.info is not None and runtime.info.name == CLS
    assert runtime.session.get_inputs()[0].shape == [1, 3, 160, 160]


def test_decoder_check_inputs_fit_the_decoder() -> None:
    """The random prompts of the `--part decoder` check (one click and a box) run through the decoder."""
    decoder = SamPromptDecoder(create_model("efficientvit-sam-l0"))
    inputs = example_inputs(decoder, None)
    with torch.inference_mode():
        masks, iou = decoder(*inputs)
    assert masks.shape == (1, 3, 256, 256) and iou.shape == (1, 3)
    assert torch.isfinite(masks).all()
    (image,) = example_inputs(create_model(SEG), (64, 96))
    assert image.shape == (1, 3, 64, 96)


def test_resolution_type() -> None:
    assert resolution("160x224") == (160, 224)
    assert resolution("160X224") == (160, 224)
    assert resolution("192") == (192, 192)
    for bad in ("", "x", "160x", "1x2x3", "a", "0", "-32x32"):
        with pytest.raises(argparse.ArgumentTypeError):
            resolution(bad)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("-m", "efficientvit-bx"), ("unknown model 'efficientvit-bx'",)),
        (("-m", SEG), ("does not fit model", SEG)),  # the classifier's weights
        (("-m", SEG, "--resolution", "100x200", "--static"), ("multiples of 32", "--resolution 128x224")),
        (("-m", SEG, "--resolution", "96x128"), ("at least 160", "--resolution 160x160")),
        (("-m", CLS, "--resolution", "200"), ("multiples of 32", "at least 160", "--static")),
        (("-m", CLS, "--part", "decoder"), ("--part applies to SAM models only", "drop --part")),
        (("-m", "efficientvit-sam-l0", "--part", "decoder", "--resolution", "64"), ("--part decoder",)),
        (("-m", "efficientvit-sr-full-x2"), ("super-resolution model", "supports classification")),
        (("-m", CLS, "--opset", "3"), ("opset 3", "writes opsets 18 to")),  # it once wrote 18 and exited 0
        (("-m", CLS, "--opset", "99"), ("opset 99", "writes opsets 18 to")),
    ],
)
def test_user_errors(
    cli, weights: Path, tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    output = tmp_path / "model.onnx"
    cli("export", "-w", weights, "-o", output, *args).assert_user_error(*needles)
    assert not output.exists()


def test_file_errors(cli, weights: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.safetensors"
    cli("export", "-m", CLS, "-w", missing, "-o", tmp_path / "a.onnx").assert_user_error(str(missing))
    result = cli("export", "-m", CLS, "-w", weights, "-o", tmp_path)
    result.assert_user_error(str(tmp_path), "is a folder")
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("export", "-m", CLS, "-w", weights, "-o", blocker / "a.onnx")
    result.assert_user_error(f"cannot write {blocker / 'a.onnx'}")


def test_bad_arguments_exit_2(cli, weights: Path, tmp_path: Path) -> None:
    base = ("export", "-m", CLS, "-w", weights, "-o", tmp_path / "a.onnx")
    assert cli(*base, "--format", "tflite").code == 2
    assert cli(*base, "--resolution", "big").code == 2
    assert cli(*base, "--opset", "0").code == 2
    assert cli("export", "-m", CLS).code == 2  # no --output


def test_a_planted_symlink_is_replaced_not_written_through(weights: Path, tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    output = tmp_path / "out" / "b0.onnx"
    output.parent.mkdir()
    output.symlink_to(outside)
    args = ("export", "-m", CLS, "-w", weights, "-o", output, "--static", "--resolution", "160")
    code, _, err = run_cli(*args, "--no-fuse")
    assert code == 0, err
    assert outside.read_text() == "keep me"
    assert not output.is_symlink()
    onnx.checker.check_model(str(output))
    assert sorted(p.name for p in output.parent.iterdir()) == ["b0.onnx"]  # no temporary file left
