"""Device names: a device that cannot run a model is refused in one line before any work starts."""

from __future__ import annotations

import pytest
import torch

from efficientvit.cli import main
from efficientvit.devices import parse_device
from efficientvit.errors import EfficientViTError


def test_cpu_and_auto_resolve_to_devices_that_work() -> None:
    assert parse_device("cpu") == torch.device("cpu")
    assert parse_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("meta", "meta tensors cannot run a model"),
        ("gpu0", "is not a device name"),
        ("cuda:x", "not a device"),
    ],
)
def test_devices_that_cannot_run_anything_are_refused(text: str, words: str) -> None:
    with pytest.raises(EfficientViTError, match=words):
        parse_device(text)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_missing_gpu_names_the_fix() -> None:
    with pytest.raises(EfficientViTError, match=r"no CUDA GPU is available on this machine; use cpu"):
        parse_device("cuda")


def test_segment_on_the_meta_device_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(b"")  # never read: the device is refused first
    model = ["--model", "efficientvit-seg-b0-cityscapes", "--weights", "official"]
    code = main(["segment", str(image), *model, "--output", str(tmp_path / "out"), "--device", "meta"])
    err = capsys.readouterr().err
    assert code == 1
    expected = "device 'meta': meta tensors cannot run a model here; use one of cpu, cuda, mps, xpu"
    assert err.strip().splitlines() == [f"efficientvit: error: {expected}"]
    assert not (tmp_path / "out").exists()
