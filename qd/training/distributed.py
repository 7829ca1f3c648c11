"""Process-group helpers for torchrun: which rank this is, on which device, and the few collective
steps a run needs. They know nothing of the training loop (qd.training.stream uses them)."""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
from torch import nn


def setup() -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun (WORLD_SIZE > 1) this joins the process group:
    NCCL with one GPU per process when CUDA is there, gloo on CPUs."""
    world = _world_size()
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return rank, world, device


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    return dist.is_initialized() and dist.get_world_size() > 1


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` when there are several processes, else the model."""
    if not is_distributed():
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def broadcast_buffers(model: nn.Module) -> None:
    """Every rank takes rank 0's buffers (DDP syncs gradients; batch-norm statistics stay per rank)."""
    if is_distributed():
        for b in unwrap(model).buffers():
            dist.broadcast(b, 0)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def gather(obj) -> list:
    """Every rank's `obj`, in rank order, on every rank (one element when not distributed)."""
    if not is_distributed():
        return [obj]
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, obj)
    return every


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def exit_process(code: int) -> None:
    """End this process with `code`. A torchrun worker (WORLD_SIZE > 1) leaves with os._exit, after
    flushing stdout and stderr, instead of finalizing the interpreter: gloo's worker threads may still
    be releasing the last collective's tensors, and a thread that asks for the GIL once finalization
    has begun kills the whole process with SIGABRT ("terminate called without an active exception";
    pytorch/pytorch#179291). Call it last: checkpoints are already written atomically and closed,
    and the process group destroyed (`teardown`). A process of its own exits normally."""
    if _world_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
