"""Fine-tuning, top to bottom: resolve the pieces → load and split the data → create the run → build the model
→ train with checkpoints → save, score the test split, record everything.

`train(config)` starts a run, `resume(run_id)` continues one from its last checkpoint. Both return the run's
summary (the CLI prints it as JSON).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import torch

from ftlab import distributed, runs, tracking
from ftlab.callbacks import CANCEL_FILE, CancelCallback, Heartbeat, StepTimer, TrackingCallback
from ftlab.config import LR_SCALINGS, TrainConfig
from ftlab.cost import compute_shape
from ftlab.data import SPLITS, get_dataset, k_shot, list_datasets, split_frame, subsample
from ftlab.ddp import ddp_plugins, share_shuffle
from ftlab.errors import UserError
from ftlab.evaluate import read_split, save_predictions, score_frame
from ftlab.methods import check_quantized_base, check_supports, count_parameters, get_method
from ftlab.mitigation import check_sensitive_col, mitigation_plugins, penalty_weight, with_group_codes
from ftlab.mitigation.validation import checkpoint_selection, validation_plugins
from ftlab.model_files import save_final_model
from ftlab.models import check_model, load_tokenizer
from ftlab.plugins import Plugins
from ftlab.precision import PrecisionProbe, precision_args, resolve_precision
from ftlab.records import summary
from ftlab.tasks import Task, get_task, list_tasks
from ftlab.training_options import OptionContext, option_plugins

log = logging.getLogger("ftlab")


@dataclass
class Plan:
    """Everything resolved from a config before anything is written."""

    config: TrainConfig
    task: Task
    method: Any
    method_config: Any
    dataset_name: str
    learning_rate: float
    precision: str = "fp32"
    """What --precision resolves to on this machine (fp32, bf16 or fp16)."""


def plan(config: TrainConfig) -> Plan:
    """Validate task, method and data names against the registries; raises UserError before any file is written."""
    task = get_task(config.task)
    method = get_method(config.method)
    check_supports(method, config.task)
    method_config = method.make_config(config.method_options)
    check_model(config.model, config.task)
    if config.load_in_bits:
        check_quantized_base(method, config.load_in_bits)
    if config.data is not None:
        dataset_name = Path(config.data).name
    else:
        spec = get_dataset(config.dataset)
        if spec.task != config.task:
            fitting = [d.name for d in list_datasets() if d.task == config.task]
            other_task = f"--task {spec.task}" if spec.task in list_tasks() else f"a build with the {spec.task} task"
            raise UserError(f"Dataset '{spec.name}' is for the '{spec.task}' task, not '{config.task}'. Use "
                            f"{other_task}, or a {config.task} dataset: {', '.join(fitting)}.")
        dataset_name = spec.name
    return Plan(config, task, method, method_config, dataset_name,
                config.learning_rate or scaled_learning_rate(method.default_learning_rate, config),
                resolve_precision(config.precision))


def scaled_learning_rate(recommended: float, config: TrainConfig) -> float:
    """The method's recommended rate (set at batch 16) moved with the samples per step, as --lr-scaling says."""
    samples = config.batch_size * int(os.environ.get("WORLD_SIZE", "1"))  # torchrun: the global batch
    return recommended * (samples / 16) ** LR_SCALINGS[config.lr_scaling]


def load_splits(config: TrainConfig) -> dict[str, pd.DataFrame]:
    """Seeded train/validation/test splits of the configured data (grouped where the dataset says so)."""
    if config.data is not None:
        task = get_task(config.task)
        frame, group_col = task.read_file(config), task.file_group_col
    else:
        spec = get_dataset(config.dataset)
        frame, group_col = spec.load(), spec.group_col
    splits = split_frame(frame, seed=config.seed, group_col=group_col)
    if config.train_size:
        splits["train"] = subsample(splits["train"], config.train_size, seed=config.seed)
    if config.shots_per_class:
        splits["train"] = k_shot(splits["train"], config.shots_per_class, seed=config.seed)
    if config.eval_size:
        splits["validation"] = subsample(splits["validation"], config.eval_size, seed=config.seed)
    if config.test_size:
        splits["test"] = subsample(splits["test"], config.test_size, seed=config.seed)
    return splits


def prepare(config: TrainConfig) -> runs.RunState:
    """Validate the config, then create the run: folder, config, seeded splits, and a "queued" tracking record.

    `train` runs it at once; the job queue (`ftlab.jobs`) prepares it now and runs it later, so a bad config is
    refused when it is submitted, not minutes later in a worker.
    """
    resolved = plan(config)
    splits = load_splits(config)
    check_sensitive_col(config, splits["train"])
    # From every split: a class (or entity type) that only the test rows have still gets a place in the head.
    labels = resolved.task.labels_of(pd.concat(splits.values(), ignore_index=True))
    run_id = config.name or runs.new_run_id(config.method, resolved.dataset_name)
    folder = runs.create_run_dir(run_id)
    (folder / "config.yaml").write_text(config.to_yaml())
    (folder / "splits").mkdir()
    for split, frame in splits.items():
        frame.to_parquet(folder / "splits" / f"{split}.parquet")
    state = runs.RunState(run_id=run_id, labels=labels)
    runs.write_state(state)
    state.mlflow_run_id = tracking.start_run(
        run_id,
        tags={"task": config.task, "method": config.method, "model": config.model, "dataset": resolved.dataset_name,
              "main_metric": resolved.task.main_metric, "preset": config.preset},
        params={**_flat_params(config), "learning_rate_used": resolved.learning_rate,
                **_penalty_param(config),
                **{f"split_size.{k}": len(v) for k, v in splits.items()}},
    )
    tracking.set_status(state.mlflow_run_id, "queued")
    runs.write_state(state)
    tracking.log_artifact(state.mlflow_run_id, str(folder / "config.yaml"))
    return state


def train(config: TrainConfig, *, plugins: Plugins | None = None, progress: bool = True) -> dict[str, Any]:
    """Fine-tune a model as configured; returns the run's summary."""
    # Under torchrun, rank 0 creates the one run and the other ranks learn its id (see ftlab.distributed).
    state = runs.read_state(distributed.on_main(lambda: prepare(config).run_id))
    splits = {split: read_split(state.run_id, split) for split in SPLITS}
    return _fit(plan(config), state, splits, checkpoint=None, plugins=plugins, progress=progress)


def resume(run_id: str, *, plugins: Plugins | None = None, progress: bool = True,
           keep_cancel: bool = False) -> dict[str, Any]:
    """Start a queued run, or continue a failed or cancelled one from its last checkpoint (optimizer included)."""
    distributed.on_main(lambda: _check_resumable(run_id, keep_cancel))  # once per launch: rank 0 claims it next
    state = runs.read_state(run_id)
    resolved = plan(runs.read_config(run_id))
    splits = {split: read_split(run_id, split) for split in SPLITS}
    checkpoint = runs.last_checkpoint(run_id)
    if checkpoint is not None:
        log.info("resuming %s from %s", run_id, checkpoint.name)
    return _fit(resolved, state, splits, checkpoint=checkpoint, plugins=plugins, progress=progress)


def _check_resumable(run_id: str, keep_cancel: bool) -> None:
    state = runs.refresh(runs.read_state(run_id))
    if state.status == "running":
        raise UserError(f"Run '{run_id}' is still running (pid {state.pid}); wait for it or cancel it first.")
    if state.status == "finished":
        raise UserError(f"Run '{run_id}' already finished; start a new run to train further.")
    if not keep_cancel:  # a stop asked of an earlier attempt must not stop this one (a queued job keeps its own)
        (runs.run_dir(run_id) / CANCEL_FILE).unlink(missing_ok=True)


def _fit(resolved: Plan, state: runs.RunState, splits: dict[str, pd.DataFrame], *, checkpoint: Path | None,
         plugins: Plugins | None, progress: bool) -> dict[str, Any]:
    config, folder = resolved.config, runs.run_dir(state.run_id)
    main = distributed.is_main()  # in a multi-process launch rank 0 keeps the books; the others only train
    if main:
        runs.claim(state)
        runs.set_status(state, "running")
    started, wall_before = time.time(), state.wall_seconds
    try:
        trainer, cancel, timer = _build_trainer(resolved, state, splits, plugins or Plugins(), progress)
        if checkpoint is not None and main:
            step = int(checkpoint.name.split("-")[-1])
            tracking.log_metrics(state.mlflow_run_id, {"resumed_from_step": step}, step=step)

        # -- train: a signal asks for a graceful stop at the end of the step, with a checkpoint ---------------
        with Heartbeat(state) if main else contextlib.nullcontext(), _stop_on_signals(cancel.requested) as signals:
            output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        state.wall_seconds = wall_before + time.time() - started
        if not main:
            if signals:
                signal.raise_signal(signals[0])
            return summary(state.run_id)
        if cancel.cancelled:
            runs.set_status(state, "cancelled")
            log.info("cancelled at step %d; checkpoint written, resume with `ftlab train --resume %s`",
                     trainer.state.global_step, state.run_id)
            if signals:
                signal.raise_signal(signals[0])  # now that the checkpoint is safe, stop as asked
            return summary(state.run_id)

        # -- save and score: the final model and its test predictions (the Trainer evaluated validation last) ----
        save_final_model(trainer, folder / "model")
        final = {"wall_seconds": state.wall_seconds, "peak_rss_mb": _peak_rss_mb(),
                 "train_step_samples_per_second": timer.samples_per_second(trainer.args),
                 "final_train_loss": output.metrics.get("train_loss", float("nan")),
                 "train_tokens": trainer.state.num_input_tokens_seen,
                 # best_global_step is kept only for a run that ends on its best checkpoint (metric_for_best_model)
                 "model_step": trainer.state.best_global_step or trainer.state.global_step}
        if torch.cuda.is_available():
            final["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        table, metrics = score_frame(resolved.task, trainer.model, trainer.processing_class, splits["test"], config,
                                     state.labels)
        save_predictions(state.run_id, "test", table, metrics)
        final.update({f"test_{k}": v for k, v in metrics.items()})
        baseline = resolved.task.baseline_metrics(trainer.model, trainer.processing_class, splits["test"], config,
                                                  state.labels)
        final.update({f"test_base_{k}": v for k, v in baseline.items()})
        tracking.log_metrics(state.mlflow_run_id, final, step=trainer.state.global_step)
        runs.set_status(state, "finished")
        if signals:
            signal.raise_signal(signals[0])  # asked to stop during the last step: it finished, now stop
        return summary(state.run_id)
    except BaseException as exc:
        state.wall_seconds = wall_before + time.time() - started
        if main:
            runs.set_status(state, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _build_trainer(resolved: Plan, state: runs.RunState, splits: dict[str, pd.DataFrame], plugins: Plugins,
                   progress: bool) -> tuple[Any, CancelCallback, StepTimer]:
    from transformers import EarlyStoppingCallback, set_seed

    from ftlab.trainer import FtlabTrainer

    config, task = resolved.config, resolved.task
    # -- model: pre-trained body + task head, made trainable by the method ------------------------------------
    set_seed(config.seed)  # the head's initialisation must not depend on what ran before in this process
    tokenizer = task.prepare_tokenizer(load_tokenizer(config.model, trust_remote_code=config.trust_remote_code))
    if config.load_in_bits:  # QLoRA: the frozen base in 4 or 8 bits, the method's added weights in fp32
        from ftlab.compress.quantize import prepare_quantized_base, quantized_base_options

        model = prepare_quantized_base(task.load_model(config.model, state.labels, **quantized_base_options(
            config.load_in_bits), trust_remote_code=config.trust_remote_code))
    else:
        model = task.load_model(config.model, state.labels, trust_remote_code=config.trust_remote_code)
    model = resolved.method.apply(model, resolved.method_config)
    already_logged = tracking.last_logged_steps(state.mlflow_run_id)
    if "trainable_params" not in already_logged and distributed.is_main():
        params = count_parameters(model)
        tracking.log_metrics(state.mlflow_run_id, {"trainable_params": params["trainable"],
                                                   "total_params": params["total"],
                                                   **compute_shape(model, tokenizer)}, step=0)

    # -- data: tokenised once; padding happens per batch in the collator -------------------------------------
    # A mitigation's sampler and loss terms see the sensitive column as integer group codes carried in the batch.
    frames = with_group_codes(config, {split: splits[split] for split in ("train", "validation")})
    plugins = mitigation_plugins(config, frames["train"], state.labels).merged(plugins)
    # With --sensitive-col, each evaluation also reports the validation rows' disparities between the groups.
    plugins = validation_plugins(config, frames["train"], state.labels).merged(plugins)
    context = OptionContext(config, frames["train"], state.labels, tokenizer, task)
    plugins = option_plugins(context).merged(plugins)
    if resolved.method.plugins is not None:  # the method's own plug-ins (distillation's KL term to its teacher)
        plugins = plugins.merged(resolved.method.plugins(resolved.method_config, context))
    plugins = ddp_plugins(runs.run_dir(state.run_id), state.mlflow_run_id).merged(plugins)  # several processes
    train_set, eval_set = (task.encode(frames[split], tokenizer, config, state.labels, plugins.extra_columns)
                           for split in ("train", "validation"))
    collator = task.collator(tokenizer, config)  # the trainer wraps it with the plug-ins' collator wrappers

    cancel, timer = CancelCallback(runs.run_dir(state.run_id)), StepTimer()
    callbacks = [TrackingCallback(state.mlflow_run_id, already_logged), cancel, timer,
                 PrecisionProbe(state.mlflow_run_id), *plugins.callbacks]
    if config.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(config.early_stopping_patience))
    trainer = FtlabTrainer(
        model=model, args=_training_args(config, resolved, runs.run_dir(state.run_id), progress),
        train_dataset=train_set, eval_dataset=eval_set, data_collator=collator, processing_class=tokenizer,
        compute_metrics=task.compute_metrics(state.labels), preprocess_logits_for_metrics=task.reduce_logits,
        callbacks=callbacks, plugins=plugins,
    )
    share_shuffle(trainer)  # several processes must draw one batch order (ftlab.ddp)
    return trainer, cancel, timer


def _training_args(config: TrainConfig, resolved: Plan, folder: Path, progress: bool):
    from transformers import TrainingArguments

    # The run ends on its best evaluated checkpoint under early stopping or a mitigation that selects one.
    selection = checkpoint_selection(config, resolved.task.main_metric, resolved.task.greater_is_better)
    return TrainingArguments(
        output_dir=str(folder / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=resolved.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        eval_strategy="steps", eval_steps=config.eval_steps,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=config.save_total_limit,
        logging_strategy="steps", logging_steps=config.log_steps, logging_first_step=True,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        load_best_model_at_end=selection is not None,
        metric_for_best_model=f"eval_{selection.metric}" if selection else None,
        greater_is_better=selection.greater_is_better if selection else None,
        seed=config.seed, data_seed=config.seed,
        remove_unused_columns=False,  # the sampler's `length` and plug-in columns are removed in compute_loss
        report_to="none",  # our TrackingCallback writes to MLflow; the built-in one would start a second run
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        include_num_input_tokens_seen="non_padding",  # the tokens the FLOPs estimate counts (ftlab.cost)
        torch_compile=bool(config.torch_compile),
        **precision_args(resolved.precision) | distributed.training_args(),
    )


@contextmanager
def _stop_on_signals(flag: threading.Event) -> Iterator[list[int]]:
    """SIGTERM / Ctrl-C set the cancel flag instead of killing mid-step (signals only work in the main thread).

    Yields the list of signals received, so the caller can deliver them again once the checkpoint is safe: a
    program that was asked to stop must still stop, not go on to its next job.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def request_stop(signum: int, _frame: Any) -> None:
        received.append(signum)
        flag.set()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _penalty_param(config: TrainConfig) -> dict[str, float]:
    weight = penalty_weight(config)
    return {} if weight is None else {"penalty_weight_used": weight}


def _flat_params(config: TrainConfig) -> dict[str, Any]:
    values = config.to_dict()
    options = values.pop("method_options")
    return {**values, **{f"method_options.{k}": v for k, v in options.items()}}
