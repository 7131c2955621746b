"""Data parallelism with torch.distributed: `torchrun --nproc-per-node N -m cnnlab train …`.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them a run is a single process. CPU runs use the gloo
backend, CUDA runs NCCL. Only rank 0 writes files and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(device_type: str) -> World:
    """Join the process group torchrun describes, or return the single-process world."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def close_world() -> None:
    """Leave the process group once every process is done (a process leaving early can abort the others)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """Sum `tensor` over all processes, in place; a no-op for one process."""
    if world.size > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(obj: object, world: World) -> list[object]:
    """Every process's `obj`, in rank order (used for the per-rank random states in checkpoints)."""
    if world.size == 1:
        return [obj]
    out: list[object] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(flag: bool, world: World, device: torch.device) -> bool:
    """True on every process when `flag` is true on any."""
    if world.size == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
