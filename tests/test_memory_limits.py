"""Hostile sizes under a capped address space: a small PNG of 8000x8000 pixels through the commands that
work at full resolution stays under 2.5 GB resident with ``ulimit -v`` at 8 GB (normal runs: 0.7-1.3 GB)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch

from efficientvit.weights import save_safetensors
from efficientvit.zoo import create_model

ADDRESS_SPACE = 8 << 30
MAX_RESIDENT = 2.5e9


def write_flat_png(path: Path, width: int, height: int) -> None:
    """An RGB PNG of one grey, written row by row: a few hundred KB on disk however large it is."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\0" + b"\x80" * (3 * width)  # filter byte 0, then the pixels
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


REPORT_PEAK = """
import os, resource, runpy, sys
limit = int(os.environ["CAP_BYTES"])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["efficientvit", *sys.argv[1:]]
try:
    runpy.run_module("efficientvit", run_name="__main__")
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(peak)
"""
"""Runs ``efficientvit`` with the address space capped, and writes its own peak resident size (VmHWM, KB).
Measured inside the process: a forked child's ``ru_maxrss`` starts from its parent's (a pytest worker's)."""


def run_capped(args: list[str], tmp_path: Path) -> tuple[int, float, str]:
    """``efficientvit ARGS`` with the address space capped: exit status, peak resident bytes, stderr."""
    peak_file = tmp_path / "peak"
    env = {**os.environ, "CAP_BYTES": str(ADDRESS_SPACE), "PEAK_FILE": str(peak_file)}
    command = [sys.executable, "-c", REPORT_PEAK, *args]
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    return result.returncode, int(peak_file.read_text()) * 1024.0, result.stderr.decode()


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    write_flat_png(path, 8000, 8000)
    return path


@pytest.mark.parametrize(
    ("model", "command"),
    [
        ("efficientvit-seg-b0-cityscapes", ["segment"]),
        ("efficientvit-sam-l0", ["sam", "--point", "4000,4000"]),
        ("efficientvit-b0-r224", ["classify"]),
    ],
)
def test_an_8000x8000_png_stays_under_2_5_gb(
    model: str, command: list[str], huge_png: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.safetensors"
    torch.manual_seed(0)
    save_safetensors(create_model(model), weights)
    output = [] if command[0] == "classify" else ["-o", str(tmp_path / "out")]
    args = [*command, str(huge_png), "-m", model, "-w", str(weights), *output]
    code, resident, stderr = run_capped(args, tmp_path)
    assert code == 0, stderr
    assert resident < MAX_RESIDENT, f"{resident / 1e9:.2f} GB resident"
