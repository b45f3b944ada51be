"""What a compressed model costs: size on disk (dense and zipped), forward-pass latency, agreement with its parent.

Latency is the model's forward pass alone (tokenizing excluded), on batches built by the run's own task encoder and
collator, timed with `time.perf_counter` after warm-up calls; the figure is the median over repeated calls, so a
stray slow call (another process taking the CPU) moves it little. torch's thread count is reported with it.
"""

from __future__ import annotations

import statistics
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".bin")
"""Weight files of a model folder (tokenizer and config files are not counted in its size)."""


@dataclass(frozen=True)
class Latency:
    batch1_ms: float
    """Median time of one forward pass on one text."""
    batch32_ms: float
    """Median time of one forward pass on a batch of (up to) 32 texts."""
    threads: int
    """torch's intra-op threads during the timing."""


def batches(frame: pd.DataFrame, tokenizer: Any, task: Any, config: Any, labels: list[str],
            size: int = 32) -> tuple[list[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """(each of the first `size` examples as its own batch, all of them as one batch), ready for the model."""
    encoded = task.encode(frame.head(size), tokenizer, config, labels).remove_columns(["length", "labels"])
    collate = task.collator(tokenizer, config)
    rows = [encoded[i] for i in range(len(encoded))]
    return [collate([row]) for row in rows], collate(rows)


def _median_ms(model: nn.Module, inputs: list[dict[str, torch.Tensor]], repeats: int, warmup: int) -> float:
    device = next(model.parameters()).device
    inputs = [{k: v.to(device) for k, v in batch.items()} for batch in inputs]
    times = []
    with torch.inference_mode():
        for i in range(warmup):
            model(**inputs[i % len(inputs)])
        for _ in range(repeats):
            for batch in inputs:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                model(**batch)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def latency(model: nn.Module, singles: list[dict[str, torch.Tensor]], batch: dict[str, torch.Tensor], *,
            repeats_batch1: int = 3, repeats_batch32: int = 5, warmup: int = 3) -> Latency:
    """Median forward-pass times at batch 1 (every single text, `repeats_batch1` times) and at batch 32 (the whole
    batch, `repeats_batch32` times), after `warmup` calls of each."""
    model.eval()
    return Latency(_median_ms(model, singles, repeats_batch1, warmup),
                   _median_ms(model, [batch], repeats_batch32, warmup), torch.get_num_threads())


def time_runs(run_ids: list[str], *, rounds: int = 5, texts_from: str | None = None) -> pd.DataFrame:
    """Latency of several runs' models timed side by side: every model on the same 32 test texts (of `texts_from`,
    by default the first run), round-robin for `rounds` rounds after a warm-up, so that a slow spell of the machine
    hits every model alike. Columns: run_id, batch1_ms, batch32_ms (medians over the rounds), threads."""
    from ftlab.evaluate import load_trained, read_split

    source = texts_from or run_ids[0]
    _, tokenizer, config, labels, task = load_trained(source)
    singles, batch = batches(read_split(source, "test"), tokenizer, task, config, labels)
    models = {run_id: load_trained(run_id)[0] for run_id in run_ids}
    for model in models.values():
        latency(model, singles, batch, repeats_batch1=1, repeats_batch32=1)
    timings: dict[str, list[Latency]] = {run_id: [] for run_id in run_ids}
    for _ in range(rounds):
        for run_id, model in models.items():
            timings[run_id].append(latency(model, singles, batch, repeats_batch1=1, repeats_batch32=1, warmup=0))
    return pd.DataFrame([{"run_id": run_id, "batch1_ms": statistics.median(t.batch1_ms for t in timed),
                          "batch32_ms": statistics.median(t.batch32_ms for t in timed), "threads": timed[0].threads}
                         for run_id, timed in timings.items()])


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def size_mb(files: Iterable[Path]) -> float:
    return sum(p.stat().st_size for p in files) / 2**20


def zipped_mb(files: Iterable[Path], chunk: int = 2**24) -> float:
    """Size after zlib (level 1) compression: what unstructured zeros would save in a compressed or sparse format."""
    total = 0
    for path in files:
        packer = zlib.compressobj(1)
        with path.open("rb") as handle:
            while block := handle.read(chunk):
                total += len(packer.compress(block))
        total += len(packer.flush())
    return total / 2**20


def agreement(table: pd.DataFrame, reference: pd.DataFrame) -> float | None:
    """Fraction of examples whose prediction (a label, or a sentence's tags) equals the reference table's."""
    column = next((c for c in ("predicted", "predicted_tags") if c in table and c in reference), None)
    if column is None or len(table) != len(reference):
        return None
    same = [str(list(a) if not isinstance(a, str) else a) == str(list(b) if not isinstance(b, str) else b)
            for a, b in zip(table[column], reference[column])]
    return sum(same) / len(same) if same else None
