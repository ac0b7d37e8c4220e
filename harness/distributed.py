"""torch.distributed set-up for ``torchrun -m hbench run``: rank, world size and a barrier."""

from __future__ import annotations

import os

from .runner import Distributed


def init_distributed() -> Distributed:
    """A single-process Distributed, or the torchrun process group when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(), barrier=dist.barrier)
