"""Input paths that are not regular files are refused at once, named for what they are."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import efficientvit.pretrained  # noqa: F401  (imported up front: the timings below are of refusals, not imports)
from efficientvit import EfficientViTError, create_model
from efficientvit.cli import refuse_unusable_inputs
from efficientvit.data.images import read_image
from efficientvit.files import regular_file
from efficientvit.train.config import TrainConfig
from efficientvit.weights import read_state_dict


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt.pt"
    os.mkfifo(path)  # opening it for reading would block until a writer comes
    return path


def _refused_quickly(call, *args) -> str:
    start = time.monotonic()
    with pytest.raises(EfficientViTError) as exc:
        call(*args)
    assert time.monotonic() - start < 1.0
    return str(exc.value)


@pytest.mark.parametrize("reader", [read_state_dict, read_image, TrainConfig.load], ids=lambda f: f.__name__)
def test_a_named_pipe_is_refused_by_every_reader(reader, fifo: Path) -> None:
    message = _refused_quickly(reader, fifo)
    assert message.startswith(f"{fifo}: is a named pipe, not a regular file")


def test_a_process_substitution_is_a_pipe() -> None:
    read_end, write_end = os.pipe()  # what bash's <(cat ckpt.pt) passes: /dev/fd/N
    try:
        message = _refused_quickly(read_state_dict, f"/dev/fd/{read_end}")
        assert "is a named pipe" in message and "write the checkpoint file to a file" in message
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_devices_are_refused_without_reading_them(tmp_path: Path) -> None:
    link = tmp_path / "weights.safetensors"
    link.symlink_to("/dev/zero")  # a symlink is followed to what it names
    for path in ("/dev/zero", "/dev/null", link):
        message = _refused_quickly(create_model, "efficientvit-b0", path)
        assert "is a character device, not a regular file" in message


def test_regular_files_pass_and_missing_ones_are_named(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"1")
    assert regular_file(path, "checkpoint file") == path
    with pytest.raises(EfficientViTError, match="no such file"):
        regular_file(tmp_path / "missing", "checkpoint file")
    with pytest.raises(EfficientViTError, match="is a directory, not a checkpoint file"):
        regular_file(tmp_path, "checkpoint file")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["classify", "{fifo}", "-m", "efficientvit-b0-r224"], "{fifo}: is a named pipe, not a regular file; "
         "write the image file to a file and pass its path"),
        (["classify", "x.png", "-m", "efficientvit-b0-r224", "-w", "/dev/zero"], "/dev/zero: is a character "
         "device, not a regular file; write the checkpoint file to a file and pass its path"),
        (["export", "-m", "efficientvit-b0-r224", "--weights=/dev/zero", "-o", "x.onnx"], "/dev/zero: is a "
         "character device, not a regular file; write the checkpoint file to a file and pass its path"),
        (["eval", "--task", "seg", "-m", "efficientvit-seg-b0-cityscapes", "--data", "{fifo}"],
         "{fifo}: is a named pipe, not a dataset folder; pass the dataset folder's path"),
    ],
)  # fmt: skip
def test_the_cli_refuses_a_pipe_or_a_device_as_input_within_a_second(
    fifo: Path, args: list[str], message: str
) -> None:
    """Before PyTorch is imported: the whole process, Python's start included, ends within a second."""
    command = [sys.executable, "-m", "efficientvit", *(arg.format(fifo=fifo) for arg in args)]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"efficientvit: error: {message.format(fifo=fifo)}"]
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


def test_a_pipe_or_dev_null_as_an_output_is_not_refused_as_an_input(fifo: Path) -> None:
    refuse_unusable_inputs(["export", "-m", "efficientvit-b0-r224", "-o", "/dev/null", f"--json={fifo}"])
