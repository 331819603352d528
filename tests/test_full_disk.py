"""A full file system: the command stops with one line, and the files written earlier survive intact.

A 4 MB tmpfs is mounted in a private mount namespace (``unshare``: root, or user namespaces), filled up,
and `efficientvit segment` and a training checkpoint save are run against it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from efficientvit import create_model
from efficientvit.weights import save_safetensors

SCRIPT = textwrap.dedent(
    """
    import errno, sys
    from pathlib import Path
    from efficientvit.cli import main
    from efficientvit.errors import EfficientViTError
    from efficientvit.train.checkpoint import atomic_save

    disk, image, weights = map(Path, sys.argv[1:4])
    out = disk / "out"
    args = ["segment", str(image), "-m", "efficientvit-seg-b0-cityscapes", "-w", str(weights), "-o", str(out),
            "--backend", "eager"]
    assert main(args) == 0
    atomic_save({"format": "efficientvit-train", "step": 1}, disk / "last.pt")
    before = {p.name: p.read_bytes() for p in [*out.iterdir(), disk / "last.pt"]}
    try:  # fill the file system up to the last byte
        with open(disk / "filler", "wb") as filler:
            while True:
                filler.write(b"\\0" * 65536)
                filler.flush()
    except OSError as err:
        assert err.errno == errno.ENOSPC, err
    print("segment exit", main(args), file=sys.stderr)
    try:
        atomic_save({"format": "efficientvit-train", "step": 2, "blob": b"x" * 100000}, disk / "last.pt")
    except EfficientViTError as err:
        print("checkpoint:", err, file=sys.stderr)
    after = {p.name: p.read_bytes() for p in [*out.iterdir(), disk / "last.pt"]}
    assert after == before, "an earlier file changed, or a temporary file was left"
    print("intact", sorted(before))
    """
)


def _namespace_prefix() -> list[str] | None:
    """``unshare`` arguments that give this test a private mount namespace in which it may mount a tmpfs."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True
        )
        if probe.returncode == 0:
            return prefix
    return None


@pytest.mark.skipif(_namespace_prefix() is None, reason="cannot mount a tmpfs in a private mount namespace")
def test_a_full_disk_leaves_the_earlier_outputs_intact(tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "street.png"
    Image.fromarray(torch.randint(0, 256, (64, 96, 3), dtype=torch.uint8).numpy()).save(image)
    weights = save_safetensors(create_model("efficientvit-seg-b0-cityscapes"), tmp_path / "seg.safetensors")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "fill.py"
    script.write_text(SCRIPT)
    mount = (
        f"mount -t tmpfs -o size=4m tmpfs {disk} && exec {sys.executable} {script} {disk} {image} {weights}"
    )
    result = subprocess.run(
        [*_namespace_prefix(), "sh", "-c", mount],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    )
    assert result.returncode == 0, result.stderr
    assert "intact ['last.pt', 'street_labels.png', 'street_overlay.png']" in result.stdout
    lines = result.stderr.strip().splitlines()
    assert "segment exit 1" in lines
    assert any(
        line.startswith("efficientvit: error: ") and "No space left on device" in line for line in lines
    )
    assert any(
        line.startswith("checkpoint: cannot write the checkpoint") and "intact" in line for line in lines
    )
    assert "Traceback" not in result.stderr
