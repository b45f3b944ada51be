"""Data-parallel training over several processes: the same `ftlab train` under `torchrun --nproc_per_node N -m
ftlab.cli train ...` (or `accelerate launch --multi_gpu`), or a queued job with `--nproc N`.

torchrun starts N copies of the command with RANK, WORLD_SIZE and LOCAL_RANK set. The transformers Trainer then
wraps the model in DistributedDataParallel (gloo on CPUs, NCCL on GPUs), gives each process every N-th batch and,
after each backward pass, all-reduces the gradients to their mean: every replica takes the same optimizer step,
so the weights stay identical and one step trains on N x --batch-size examples.

What ftlab adds so that a launch is still one run:
- The run is created once. Rank 0 validates the config and prepares the run (folder, seeded splits, tracking
  record), then broadcasts its id, or its UserError, to the other ranks, which read the same splits from the run
  folder. A broadcast rather than a name every rank derives alike: a run's default name holds a time stamp that
  two processes need not agree on, and torchrun's rendezvous id is "none" unless the user sets one.
- The bookkeeping is rank 0's: state.json, the heartbeat, tracking, the final model, the test scores. The Trainer
  already logs and writes checkpoints from the main process only.
- The ranks stop together: the cancel flag is all-reduced at each step end (`any_rank`), or a rank that stopped
  alone would leave the others waiting forever in their next all-reduce.
- The ranks draw one batch order in every epoch (`ftlab.ddp.share_shuffle`), and the loss is not scaled by the
  process count (`training_args`): two things the Trainer left wrong for this project's models.
- `distributed.json` in the run folder (`ftlab.ddp`) shows each rank's share of the data and its
  weights' checksum, so disjoint shards and identical replicas can be checked rather than assumed.

Light on purpose (torch is imported inside the functions): the CLI asks `is_main()` before printing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ftlab.errors import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    rank: int
    """This process's number among all (0 keeps the books)."""
    local_rank: int
    """Its number on this machine: the GPU it uses."""
    size: int
    """How many processes train together."""


def world() -> World:
    """This process's place in the launch, from the variables torchrun (and `accelerate launch`) set."""
    env = os.environ
    return World(int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env.get("WORLD_SIZE", 1)))


def is_main() -> bool:
    return world().rank == 0


def init() -> None:
    """Join the launch's process group before the Trainer exists (it reuses it): NCCL on GPUs, gloo on CPUs."""
    import torch
    import torch.distributed as dist

    here = world()
    if here.size == 1 or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(here.local_rank)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")


def on_main(fn: Callable[[], T]) -> T:
    """`fn()` run by rank 0 alone; every rank returns its result, or raises its error. One process: `fn()`.

    For what must happen once per launch (create the run, check that it may resume), with the others waiting.
    """
    here = world()
    if here.size == 1:
        return fn()
    import torch.distributed as dist

    init()
    payload: list[Any] = [None]
    failure: BaseException | None = None
    if here.rank == 0:
        try:
            payload[0] = ("ok", fn())
        except BaseException as exc:  # the others must hear of it, or they would wait for a result forever
            failure = exc
            payload[0] = ("user", str(exc)) if isinstance(exc, UserError) else ("crash", f"{type(exc).__name__}: {exc}")
    dist.broadcast_object_list(payload, src=0)
    if failure is not None:
        raise failure
    kind, value = payload[0]
    if kind == "user":
        raise UserError(value)
    if kind == "crash":
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def any_rank(flag: bool, device: Any = "cpu") -> bool:
    """True in every process when it is true in any: for decisions the ranks must take together (stop now)."""
    import torch
    import torch.distributed as dist

    if world().size == 1 or not dist.is_initialized():
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def training_args() -> dict[str, Any]:
    """`TrainingArguments` for a multi-process launch: without a GPU the Trainer does DDP only with `use_cpu`.

    `average_tokens_across_devices` is off: with it, the Trainer multiplies the loss by the process count for any
    model whose forward takes **kwargs, expecting the model to divide by the global token count; BERT's
    sequence-classification loss is a plain batch mean, so the loss and its gradients came out N times too large
    (2 processes logged 1.38 for two classes at initialisation, not ln 2). Without it each rank's mean loss is
    averaged by DDP's all-reduce: the mean over the whole step for equal per-rank batches.
    """
    import torch

    if world().size == 1:
        return {}
    return {"average_tokens_across_devices": False, **({} if torch.cuda.is_available() else {"use_cpu": True})}
