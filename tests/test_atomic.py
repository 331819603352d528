"""Output files are replaced whole: never written through a planted symlink, never left half-written."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import torch

from efficientvit.atomic import atomic_write, atomic_write_text
from efficientvit.data.images import save_png
from efficientvit.errors import EfficientViTError


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "unrelated.txt"
    victim.write_text("keep me")
    planted = tmp_path / "out" / "photo_labels.png"
    planted.parent.mkdir()
    planted.symlink_to(victim)
    save_png(torch.zeros(4, 6, dtype=torch.uint8), planted)
    assert victim.read_text() == "keep me"
    assert not planted.is_symlink() and planted.read_bytes().startswith(b"\x89PNG")
    assert stat.S_IMODE(planted.stat().st_mode) == 0o644


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "result.json", '{"good": true}')
    with pytest.raises(OSError, match="disk full"), atomic_write(path) as file:
        file.write(b'{"trunc')
        raise OSError(28, "No space left on device (disk full)")
    assert path.read_text() == '{"good": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_a_planted_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for name in (".out.png.partial", ".out.png.1.tmp"):  # the names earlier versions used
        (tmp_path / name).symlink_to(victim)
    save_png(torch.zeros(2, 2, dtype=torch.uint8), tmp_path / "out.png")
    assert victim.read_text() == "keep me"


def test_dev_null_and_a_named_pipe_are_written_as_streams_not_replaced(tmp_path: Path) -> None:
    """Replacing them by a renamed temporary file would put a regular file where the device or pipe was."""
    atomic_write_text("/dev/null", "nothing")
    assert Path("/dev/null").is_char_device()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert list(tmp_path.iterdir()) == [fifo]


def test_a_directory_as_the_destination_is_one_line_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("kept")
    with pytest.raises(
        EfficientViTError, match=f"^{tmp_path}: is a directory, not a file to write; give a file"
    ):
        atomic_write_text(tmp_path, "x")
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]
