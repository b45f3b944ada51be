"""Trainer callbacks: write metrics to the tracking store, stop gracefully on cancel, keep the heartbeat."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from transformers import TrainerCallback

from ftlab import tracking
from ftlab.distributed import any_rank
from ftlab.runs import CANCEL_FILE, RunState, write_state


class TrackingCallback(TrainerCallback):
    """Logs every `on_log` dict to MLflow at the current global step.

    On resume the trainer replays the steps after the last checkpoint; those were already logged before the crash,
    so steps at or below each metric's last logged step are skipped and the history never shows a step twice.
    """

    def __init__(self, mlflow_run_id: str, already_logged: dict[str, int] | None = None) -> None:
        self.mlflow_run_id = mlflow_run_id
        self.already_logged = dict(already_logged or {})

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:  # what the live view needs for progress and ETA
            samples = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
            tracking.set_tags(self.mlflow_run_id, {"total_steps": state.max_steps, "samples_per_step": samples,
                                                   "world_size": args.world_size})

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        step = state.global_step
        fresh = {k: v for k, v in logs.items()
                 if isinstance(v, (int, float)) and step > self.already_logged.get(k, -1)}
        tracking.log_metrics(self.mlflow_run_id, fresh, step)
        self.already_logged.update({k: step for k in fresh})


class StepTimer(TrainerCallback):
    """Training throughput over the time spent in optimizer steps only.

    The Trainer's own samples/s divides by the whole `train()` time, evaluations and checkpoint writes included,
    which makes a run that evaluates often look slow; this one measures the training itself.
    """

    def __init__(self) -> None:
        self.seconds, self.steps, self._start = 0.0, 0, 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds += time.perf_counter() - self._start
        self.steps += 1

    def samples_per_second(self, args) -> float:
        samples = self.steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        return samples / self.seconds if self.seconds else 0.0


class CancelCallback(TrainerCallback):
    """Stops at the end of the current step, writing a checkpoint first, when asked by a signal or a CANCEL file."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.requested = threading.Event()
        self.cancelled = False

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            return control  # the last step is done: finishing is better than a "cancelled" run with nothing left
        asked = self.requested.is_set() or (self.run_dir / CANCEL_FILE).exists()
        if any_rank(asked, args.device):  # DDP ranks stop at the same step, or the others would wait forever
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        return control


class Heartbeat:
    """Refreshes the run's heartbeat from a daemon thread, so long evaluations do not look like a hang."""

    def __init__(self, state: RunState, every_seconds: float = 5.0) -> None:
        self.state, self.every = state, every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="ftlab-heartbeat")

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self.state.heartbeat = time.time()
            write_state(self.state)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
