"""`ftlab compress RUN`: a new run derived from a finished one, holding its pruned and/or quantized model.

Top to bottom: check the request → load the parent's model and make it plain (`ftlab.compress.common`) → time the
fp32 model and size it → create the run (its own folder, the parent's config and splits, a tracking record tagged
with its parent) → prune, fine-tune with the masks held, make the zeros permanent → quantize → save → reload the
saved model the way `ftlab.load_trained` does and measure *that*: test metrics on the parent's test split, sparsity,
size on disk, latency, agreement with the parent's predictions.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from ftlab import runs, tracking
from ftlab.callbacks import Heartbeat, TrackingCallback
from ftlab.compress import measure
from ftlab.compress.common import COMPRESSION_FILE, QUANTIZED_FILE, check_compressible, plain_model
from ftlab.compress.prune import expected_zeros, finetune_pruned, make_permanent, measure_sparsity, prune_global
from ftlab.compress.quantize import KBIT, bitsandbytes_config, load_in_kbit, quantize_dynamic_int8, save_int8
from ftlab.config import TrainConfig
from ftlab.errors import UserError
from ftlab.evaluate import predictions, read_split, save_predictions, score_frame
from ftlab.home import check_name
from ftlab.methods import get_method
from ftlab.model_files import load_model_from
from ftlab.records import summary
from ftlab.tasks import get_task

log = logging.getLogger("ftlab")


@dataclass(kw_only=True)
class CompressOptions:
    prune: float | None = None
    """Target sparsity: the fraction of the encoder's Linear weights zeroed by global magnitude pruning, between 0
    and 1 (e.g. 0.5)."""
    prune_finetune_steps: int = 0
    """Optimizer steps of fine-tuning after pruning, on the parent's training split, with the pruned weights held at
    zero (0: none)."""
    finetune_learning_rate: float | None = None
    """Learning rate of that fine-tune. Unset: full fine-tuning's (every weight of a plain model trains), or the
    parent's for adapters and prefix tuning (only the method's modules and the head train)."""
    int8: bool = False
    """Quantize to int8 for CPU inference (torch's dynamic quantization of the Linear layers)."""
    int8_embeddings: bool = True
    """With int8: store the word-embedding table in int8 too (most of a small encoder's size on disk)."""
    load_in_bits: int | None = None
    """8 or 4: reload the weights in 8-bit or 4-bit through bitsandbytes (needs a CUDA GPU and bitsandbytes)."""
    name: str | None = None
    """Name of the new run; unset: the parent's name and what was done, e.g. `<parent>-prune50-int8`."""
    latency_repeats: int = 3
    """Latency: each of 32 test texts is timed alone this many times (batch 1), and all 32 at once as many times."""

    def __post_init__(self) -> None:
        if self.prune is not None and not (isinstance(self.prune, (int, float)) and 0 < self.prune < 1):
            raise UserError(f"--prune is the fraction of weights to zero and must be between 0 and 1 (both "
                            f"excluded), got {self.prune!r}; e.g. --prune 0.5 zeroes half of the encoder's weights.")
        if not isinstance(self.prune_finetune_steps, int) or self.prune_finetune_steps < 0:
            raise UserError(f"--prune-finetune-steps must be a whole number of 0 or more, got "
                            f"{self.prune_finetune_steps!r}; e.g. --prune-finetune-steps 100.")
        if self.prune_finetune_steps and self.prune is None:
            raise UserError("--prune-finetune-steps fine-tunes a pruned model: add --prune (e.g. --prune 0.5), or "
                            "drop --prune-finetune-steps.")
        if self.finetune_learning_rate is not None and not 0 < self.finetune_learning_rate < 1:
            raise UserError(f"The fine-tune's learning rate must be between 0 and 1, got "
                            f"{self.finetune_learning_rate!r}; e.g. 2e-5.")
        if self.load_in_bits is not None and self.load_in_bits not in KBIT:
            raise UserError(f"k-bit loading takes 8 or 4 bits, not {self.load_in_bits!r}: use --load-in-8bit or "
                            "--load-in-4bit.")
        if self.int8 and self.load_in_bits:
            raise UserError(f"Choose one quantization: --int8 (CPU, torch's dynamic int8) or --load-in-"
                            f"{self.load_in_bits}bit (GPU, bitsandbytes), not both.")
        if self.prune is None and not self.int8 and not self.load_in_bits:
            raise UserError("Nothing to do: give --prune S (e.g. 0.5), --int8, or both: e.g. "
                            "`ftlab compress RUN --prune 0.5 --int8`.")
        if not isinstance(self.latency_repeats, int) or self.latency_repeats < 1:
            raise UserError(f"latency_repeats must be a whole number of 1 or more, got {self.latency_repeats!r}.")
        if self.name is not None:
            check_name(self.name)

    def label(self) -> str:
        """What was done, for the default run name and the method tag: e.g. `prune50-ft100-int8`."""
        parts = []
        if self.prune is not None:
            parts.append(f"prune{100 * self.prune:g}".replace(".", "p"))
            if self.prune_finetune_steps:
                parts.append(f"ft{self.prune_finetune_steps}")
        if self.int8:
            parts.append("int8" if self.int8_embeddings else "int8linear")
        if self.load_in_bits:
            parts.append(f"{self.load_in_bits}bit")
        return "-".join(parts)


def compress_run(parent: str, *, progress: bool = False, **options: Any) -> dict[str, Any]:
    """Compress a finished run into a new run; `options` are the fields of `CompressOptions`. Returns the new run's
    summary with a `compression` report (the fp32 reference measured in the same process, on the same texts).

    >>> compress_run("full-rt-demo", prune=0.5, prune_finetune_steps=50, int8=True)  # doctest: +SKIP
    """
    request, parent_state, config, run_id = _checked(parent, options)
    task, labels, parent_dir = get_task(config.task), parent_state.labels, runs.run_dir(parent) / "model"
    model, structure = plain_model(load_model_from(parent_dir, config, labels, task), config.method)
    if request.load_in_bits and structure != "plain":
        raise UserError(f"--load-in-{request.load_in_bits}bit reloads a plain model through transformers; runs of "
                        f"--method {config.method} carry modules of ftlab's own. Use --int8 for this run.")
    tokenizer = AutoTokenizer.from_pretrained(parent_dir)
    splits = {split: read_split(parent, split) for split in ("train", "test")}
    texts = measure.batches(splits["test"], tokenizer, task, config, labels)
    reference = _reference(model, texts, request.latency_repeats)

    state = _create_run(run_id, parent, parent_state, config, request, task)
    folder, started = runs.run_dir(run_id), time.time()
    runs.claim(state)
    runs.set_status(state, "running")
    try:
        with Heartbeat(state):
            trainable = _prune(model, structure, request, config, tokenizer, splits["train"], task, labels, state,
                               progress)
            total_params = sum(p.numel() for p in model.parameters())
            _save(model, folder / "model", request)
            tokenizer.save_pretrained(folder / "model")
            info = {"parent": parent, "structure": structure, **asdict(request)}
            (folder / "model" / COMPRESSION_FILE).write_text(json.dumps(info, indent=2))
            final = _measure_saved(run_id, parent, splits["test"], texts, request.latency_repeats, reference)
        state.wall_seconds = time.time() - started
        final.update(total_params=total_params, trainable_params=trainable, wall_seconds=state.wall_seconds)
        tracking.log_metrics(state.mlflow_run_id, final, step=request.prune_finetune_steps)
        runs.set_status(state, "finished")
    except BaseException as exc:
        state.wall_seconds = time.time() - started
        runs.set_status(state, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    main = task.main_metric
    report = {"parent": parent, "structure": structure, "label": request.label(), "main_metric": main,
              "parent_value": summary(parent)["metrics"].get(f"test_{main}"),
              "expected_zeros": expected_zeros(int(final["prunable_weights"]), request.prune or 0.0),
              **{k: v for k, v in asdict(request).items() if k != "name"}, **final}
    return {**summary(run_id), "parent": parent, "compression": report}


# -- steps ------------------------------------------------------------------------------------------------------

def _checked(parent: str, options: dict[str, Any]) -> tuple[CompressOptions, runs.RunState, TrainConfig, str]:
    """(the request, the parent's state and config, the new run's name), every check done before any file is
    written."""
    try:
        request = CompressOptions(**options)
    except TypeError as exc:
        raise UserError(f"Unknown compression option: {exc}. Options: "
                        f"{', '.join(CompressOptions.__dataclass_fields__)}.") from exc
    if request.load_in_bits:
        bitsandbytes_config(request.load_in_bits)
    parent_state, config = _finished_parent(parent)
    if config.task == "sft":
        raise UserError(f"Run '{parent}' is an sft run (a causal LM); `ftlab compress` covers encoder runs "
                        "(classification, NER, multi-task). A causal LM trained with LoRA is already small on disk: "
                        f"its adapter. Merge it for deployment with `ftlab export {parent} OUT`.")
    check_compressible(config.method)
    run_id = request.name or _free_name(parent, request.label())
    if runs.run_dir(run_id).exists():
        raise UserError(f"A run named '{run_id}' already exists. Choose another --name.")
    return request, parent_state, config, run_id


def _reference(model: Any, texts: Any, repeats: int) -> dict[str, float]:
    """The fp32 model's size on disk (saved as a whole model) and latency, on the texts the compressed one meets."""
    timed = measure.latency(model, *texts, repeats_batch1=repeats, repeats_batch32=repeats)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        files = measure.weight_files(Path(scratch))
        return {"reference_size_mb": measure.size_mb(files), "reference_size_zipped_mb": measure.zipped_mb(files),
                "reference_latency_ms_batch1": timed.batch1_ms, "reference_latency_ms_batch32": timed.batch32_ms}


def _measure_saved(run_id: str, parent: str, test: Any, texts: Any, repeats: int,
                   reference: dict[str, float]) -> dict[str, float]:
    """Scores, sparsity, size and latency of the compressed model as saved, reloaded exactly as
    `ftlab.load_trained` reloads it, beside the fp32 reference."""
    config, labels = runs.read_config(run_id), runs.read_state(run_id).labels
    task, folder = get_task(config.task), runs.run_dir(run_id) / "model"
    log.info("scoring the saved model on the parent's %d test examples", len(test))
    saved = load_model_from(folder, config, labels, task).eval()
    table, metrics = score_frame(task, saved, AutoTokenizer.from_pretrained(folder), test, config, labels)
    save_predictions(run_id, "test", table, metrics)
    timed = measure.latency(saved, *texts, repeats_batch1=repeats, repeats_batch32=repeats)
    sparsity, files = measure_sparsity(saved), measure.weight_files(folder)
    final = {**{f"test_{k}": v for k, v in metrics.items()}, **reference,
             "sparsity": sparsity.fraction, "prunable_weights": sparsity.total, "size_mb": measure.size_mb(files),
             "size_zipped_mb": measure.zipped_mb(files), "latency_ms_batch1": timed.batch1_ms,
             "latency_ms_batch32": timed.batch32_ms, "torch_threads": timed.threads}
    final.update(size_ratio=reference["reference_size_mb"] / final["size_mb"],
                 speedup_batch1=reference["reference_latency_ms_batch1"] / timed.batch1_ms,
                 speedup_batch32=reference["reference_latency_ms_batch32"] / timed.batch32_ms)
    agreement = measure.agreement(table, predictions(parent, "test")[0])
    if agreement is not None:
        final["agreement_with_parent"] = agreement
    parent_value = summary(parent)["metrics"].get(f"test_{task.main_metric}")
    if parent_value is not None and task.main_metric in metrics:
        final[f"test_{task.main_metric}_vs_parent"] = metrics[task.main_metric] - parent_value
    return final


def _finished_parent(parent: str) -> tuple[runs.RunState, TrainConfig]:
    state = runs.refresh(runs.read_state(parent))
    if state.status != "finished":
        hint = ("wait for it to finish" if state.status in ("queued", "running")
                else f"continue it with `ftlab train --resume {parent}` first")
        raise UserError(f"Run '{parent}' is {state.status}; only a finished run can be compressed: {hint}.")
    model_dir = runs.run_dir(parent) / "model"
    if not model_dir.is_dir():
        raise UserError(f"Run '{parent}' has no saved model ({model_dir} is missing): its folder is incomplete. "
                        "Train it again, then compress the new run.")
    info = model_dir / COMPRESSION_FILE
    if (model_dir / QUANTIZED_FILE).is_file() or (info.is_file() and json.loads(info.read_text()).get("load_in_bits")):
        source = json.loads(info.read_text()).get("parent", "its parent") if info.is_file() else "its parent"
        raise UserError(f"Run '{parent}' is already quantized; compress its fp32 parent '{source}' instead "
                        "(prune and quantize in one go: --prune S --int8).")
    return state, runs.read_config(parent)


def _free_name(parent: str, label: str) -> str:
    base = f"{parent[:127 - len(label)]}-{label}"
    candidate, n = base, 1
    while runs.run_dir(candidate).exists():
        n += 1
        candidate = f"{base[:124]}-{n}"
    return candidate


def _create_run(run_id: str, parent: str, parent_state: runs.RunState, config: TrainConfig,
                request: CompressOptions, task: Any) -> runs.RunState:
    """The new run's folder (the parent's config under the new name, the parent's splits) and tracking record,
    tagged with its parent and params copied from it, so the Runs and Compare pages show both."""
    folder = runs.create_run_dir(run_id)
    config = TrainConfig.from_dict({**config.to_dict(), "name": run_id})
    (folder / "config.yaml").write_text(config.to_yaml())
    shutil.copytree(runs.run_dir(parent) / "splits", folder / "splits")
    state = runs.RunState(run_id=run_id, labels=list(parent_state.labels))
    runs.write_state(state)
    parent_run = tracking.client().get_run(parent_state.mlflow_run_id)
    parent_tags = {k[len(tracking.TAG):]: v for k, v in parent_run.data.tags.items() if k.startswith(tracking.TAG)}
    params = {**parent_run.data.params, "name": run_id,
              **{f"compress.{k}": v for k, v in asdict(request).items() if k != "name"}}
    state.mlflow_run_id = tracking.start_run(run_id, params=params, tags={
        "task": config.task, "method": f"{config.method}+{request.label()}", "model": config.model,
        "dataset": parent_tags.get("dataset", config.dataset), "main_metric": task.main_metric,
        "preset": config.preset, "parent": parent, "compression": request.label()})
    runs.write_state(state)
    tracking.log_artifact(state.mlflow_run_id, str(folder / "config.yaml"))
    return state


def _prune(model: Any, structure: str, request: CompressOptions, config: TrainConfig, tokenizer: Any,
           train: Any, task: Any, labels: list[str], state: runs.RunState, progress: bool) -> int:
    """Prune (and fine-tune) in place; returns how many parameters the fine-tune trained (0 without one)."""
    if request.prune is None:
        return 0
    if structure == "plain":  # a merged adapter or a partly trained model: the fine-tune updates every weight
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    pruned = prune_global(model, request.prune)
    log.info("pruned %.0f%% of the encoder's Linear weights", 100 * request.prune)
    trainable = 0
    if request.prune_finetune_steps:
        rate = (request.finetune_learning_rate or (get_method("full").default_learning_rate if structure == "plain"
                else config.learning_rate or get_method(config.method).default_learning_rate))
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("fine-tuning %d steps at learning rate %g with the pruned weights held at zero",
                 request.prune_finetune_steps, rate)
        finetune_pruned(model, tokenizer, train, task=task, config=config, labels=labels,
                        steps=request.prune_finetune_steps, learning_rate=rate,
                        output_dir=runs.run_dir(state.run_id) / "checkpoints",
                        callbacks=[TrackingCallback(state.mlflow_run_id)], progress=progress)
    make_permanent(pruned)
    return trainable


def _save(model: Any, folder: Path, request: CompressOptions) -> None:
    """int8: the quantized state dict; k-bit: bitsandbytes' own `save_pretrained`; pruned only: the whole fp32
    model (`save_pretrained`, safetensors), which `ftlab.model_files` reloads like a full fine-tune's."""
    if request.int8:
        log.info("quantizing to int8 (dynamic, Linear layers%s)", " and word embeddings" * request.int8_embeddings)
        save_int8(quantize_dynamic_int8(model, embeddings=request.int8_embeddings), folder)
    elif request.load_in_bits:
        load_in_kbit(model, request.load_in_bits).save_pretrained(folder)
    else:
        model.save_pretrained(folder)

