"""Atomic checkpoints: a save that dies half-way leaves the previous file usable."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from efficientvit.errors import EfficientViTError
from efficientvit.train.checkpoint import (
    FORMAT,
    atomic_save,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
)


def test_round_trip_loads_with_weights_only(tmp_path: Path) -> None:
    path = atomic_save(
        {"format": FORMAT, "w": torch.arange(3), "rng": capture_rng_state()}, tmp_path / "last.pt"
    )
    state = load_checkpoint(path)
    assert torch.equal(state["w"], torch.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_save_killed_half_way_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = atomic_save({"format": FORMAT, "step": 1}, tmp_path / "last.pt")

    def dies_half_way(obj: object, file) -> None:  # writes some bytes, then the "process" dies
        file.write(b"PK\x03\x04 partial zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"format": FORMAT, "step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_temporary_file_left_by_a_killed_process_is_cleaned_up(tmp_path: Path) -> None:
    (tmp_path / ".last.pt.999.tmp").write_bytes(b"PK\x03\x04 partial")
    atomic_save({"format": FORMAT, "step": 3}, tmp_path / "last.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_truncated_or_foreign_files_give_clear_errors(tmp_path: Path) -> None:
    atomic_save({"format": FORMAT, "x": torch.zeros(1000)}, tmp_path / "last.pt")
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(EfficientViTError, match=r"cut\.pt: not a readable training checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(EfficientViTError, match="not an efficientvit training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(EfficientViTError, match="no checkpoint there"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_state_restores_the_same_draws() -> None:
    state = capture_rng_state()
    first = torch.rand(4)
    restore_rng_state(state)
    assert torch.equal(torch.rand(4), first)


def test_sigkill_during_saves_always_leaves_a_complete_checkpoint(tmp_path: Path) -> None:
    """A real process saving 16 MB checkpoints in a loop is killed at an arbitrary moment."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "last.pt"
    atomic_save({"format": FORMAT, "step": -1, "w": torch.zeros(4 * 2**20)}, path)
    script = (
        "import sys, torch\n"
        "from efficientvit.train.checkpoint import FORMAT, atomic_save\n"
        "for step in range(10**6):\n"
        "    w = torch.full((4 * 2**20,), float(step))\n"
        "    atomic_save({'format': FORMAT, 'step': step, 'w': w}, sys.argv[1])\n"
        "    print(step, flush=True)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()  # at least one save finished; the next ones are in flight
    time.sleep(0.37)
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = load_checkpoint(path)
    assert state["step"] >= 0
    assert torch.equal(state["w"], torch.full((4 * 2**20,), float(state["step"])))
