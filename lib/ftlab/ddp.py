"""The plug-ins of a multi-process (DDP) run: one shuffle for every rank, and `distributed.json`.

**One shuffle.** accelerate gives each rank every N-th batch of one sequence, so every rank must draw the same
sequence. The length-grouped sampler (and a plug-in sampler) shuffles with torch's global generator, which dropout
also draws from, by amounts that follow each rank's own batch shapes: from the second epoch on the ranks shuffled
differently and trained on overlapping examples (this report showed it before the fix). `share_shuffle` has
accelerate copy rank 0's generator state to every rank as each pass over the data begins (its `rng_types`), after
a resume has restored each rank's own state and before the pass draws its order.

**`distributed.json`**: what each process did, gathered to rank 0 at the end of training.

Per rank: its device, the optimizer steps it took, the `example_id`s of the training examples it trained on in
each epoch (ids of the run's `splits/train.parquet`), and a SHA-256 of its weights before and after. Under DDP
the ranks' shards of an epoch are disjoint and the replicas' weights identical after every step; the file shows
whether they were (`shards_disjoint` and `replicas_identical` are also tags of the run).

The ids travel into each training batch as a plug-in extra column; a collator wrapper notes them and drops the
column before the task's collator, so the model never sees it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback

from ftlab import tracking
from ftlab.data.splits import ID_COL
from ftlab.distributed import world
from ftlab.plugins import Plugins

REPORT_FILE = "distributed.json"


def params_sha256(model: nn.Module) -> str:
    """A checksum of every parameter's bytes, in name order: equal only for bit-identical weights."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def share_shuffle(trainer: Any) -> None:
    """Make accelerate sync torch's global generator from rank 0 whenever a prepared data loader starts a pass."""
    if world().size > 1 and "torch" not in trainer.accelerator.rng_types:
        trainer.accelerator.rng_types = ["torch", *trainer.accelerator.rng_types]


class DistributedReport(TrainerCallback):
    """Notes each training batch's example ids (collator wrapper) and writes the gathered report at train end."""

    def __init__(self, run_dir: Path, mlflow_run_id: str) -> None:
        self.run_dir, self.mlflow_run_id = run_dir, mlflow_run_id
        self.batches: list[tuple[int, list[int]]] = []
        """(epoch, example ids) of each training batch collated, in order."""
        self.epoch, self.steps, self.start = 0, 0, ""

    def wrap(self, collator: Callable, training: bool) -> Callable:
        def collate(features: list[dict[str, Any]]) -> Any:
            if training:
                self.batches.append((self.epoch, [int(f[ID_COL]) for f in features if ID_COL in f]))
            return collator([{k: v for k, v in f.items() if k != ID_COL} for f in features])

        return collate

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.start = params_sha256(model)
        if state.is_world_process_zero:
            tracking.set_tags(self.mlflow_run_id, {"ddp_backend": torch.distributed.get_backend()})

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch = int(state.epoch or 0)

    def on_step_end(self, args, state, control, **kwargs):
        self.steps += 1

    def on_train_end(self, args, state, control, model=None, **kwargs):
        # The loader collates a batch or two ahead of the step that uses it: keep the batches the steps consumed.
        used = self.batches[:self.steps * args.gradient_accumulation_steps]
        by_epoch: dict[int, list[int]] = {}
        for epoch, ids in used:
            by_epoch.setdefault(epoch, []).extend(ids)
        mine = {"rank": world().rank, "device": str(args.device), "steps": self.steps,
                "example_ids": {str(epoch): ids for epoch, ids in by_epoch.items()},
                "params_sha256_start": self.start, "params_sha256_end": params_sha256(model)}
        ranks: list[Any] = [None] * world().size
        torch.distributed.all_gather_object(ranks, mine)
        if not state.is_world_process_zero:
            return
        # An example may come back in a later epoch, to another rank; within an epoch each has one owner.
        seen = [(epoch, i) for rank in ranks for epoch, ids in rank["example_ids"].items() for i in set(ids)]
        report = {"world_size": len(ranks), "backend": torch.distributed.get_backend(),
                  "per_device_batch_size": args.per_device_train_batch_size,
                  "samples_per_step": args.per_device_train_batch_size * args.gradient_accumulation_steps * len(ranks),
                  "shards_disjoint": len(seen) == len(set(seen)),
                  "replicas_identical": len({rank["params_sha256_end"] for rank in ranks}) == 1,
                  "ranks": ranks}
        path = self.run_dir / REPORT_FILE
        path.write_text(json.dumps(report, indent=1))
        tracking.set_tags(self.mlflow_run_id, {k: report[k] for k in ("shards_disjoint", "replicas_identical")})
        tracking.log_artifact(self.mlflow_run_id, str(path))


def ddp_plugins(run_dir: Path, mlflow_run_id: str) -> Plugins:
    """The report's plug-ins in a multi-process launch; nothing in a single process."""
    if world().size == 1:
        return Plugins()
    report = DistributedReport(run_dir, mlflow_run_id)
    return Plugins(collator_wrappers=[report.wrap], callbacks=[report], extra_columns=(ID_COL,))
