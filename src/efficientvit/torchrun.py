"""How a process started by `torchrun` reports its failure: its rank in its one-line error, the root cause in
torchrun's summary, and a peer's collapse told apart from its own error.

Nothing here imports PyTorch, so the command line can use it when it refuses bad arguments at start-up.
"""

from __future__ import annotations

import json
import os
import time

__all__ = ["is_peer_failure", "process_label", "report_to_launcher"]

PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "remote worker crashing")
"""What gloo and the c10d store say when a collective fails because another process of the job exited."""


def process_label() -> str:
    """``"rank R/N: "`` in a `torchrun` job of N > 1 processes, so that each process's one-line error says
    whose it is; ``""`` in a plain run."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    return f"rank {os.environ.get('RANK', '0')}/{world_size}: " if world_size > 1 else ""


def is_peer_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective operation failing only because another process of this `torchrun`
    job stopped (gloo and the c10d store raise a ``RuntimeError`` saying the peer closed the connection)."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return distributed and isinstance(error, RuntimeError) and any(text in str(error) for text in PEER_GONE)


def report_to_launcher(message: str, *, caused_by_peer: bool = False) -> None:
    """Give `torchrun` this process's one-line error for its failure summary, in the error file it names
    (``$TORCHELASTIC_ERROR_FILE``; nothing to do outside `torchrun`). Its summary then shows the message in
    place of "To enable traceback see ...", and takes the process that failed first as the root cause: a
    process stopped by another's failure reports a second later, so the real cause stays first."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    timestamp = int(time.time()) + (1 if caused_by_peer else 0)
    data = {"message": {"message": message, "extraInfo": {"timestamp": str(timestamp)}}}
    try:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(data, file)
    except OSError:  # the summary then says "To enable traceback see ...": nothing lost
        pass
