"""Process-group set-up for `torchrun` and the few collective operations the training loop needs.

One process per device: ``torchrun --nproc_per_node N`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; a plain ``python`` run is a world of one. GPUs use NCCL and one device per local rank;
CPUs use gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from efficientvit.devices import parse_device

__all__ = [
    "DistributedContext",
    "all_reduce_sum",
    "init_distributed",
    "is_main_process",
    "shutdown_distributed",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the job: its rank, the number of processes, and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Only the main process (rank 0) writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _pick_device(requested: str, local_rank: int) -> torch.device:
    device = parse_device(requested)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the `torchrun` process group if there is one (NCCL on GPUs, gloo on CPUs) and pick the device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = _pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if target.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def is_main_process() -> bool:
    """Whether this process is rank 0 of its `torchrun` job (or runs alone)."""
    return int(os.environ.get("RANK", "0")) == 0


def shutdown_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over all processes (returned as is in a world of one)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        tensor = tensor.clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
