"""The job queue: fine-tunes submitted now and run later, each in its own process, by one detached worker.

The queue lives in the workbench home, not in the app, so the CLI (`ftlab train --queue`, `ftlab jobs`,
`ftlab cancel`) and the Streamlit app share it, and queued jobs go on while no app is running:

    <home>/queue/queue.json   pending jobs in order, the jobs running now, the concurrency setting
    <home>/queue/queue.lock   a file lock around every read-modify-write of queue.json
    <home>/queue/worker.lock  held by the one live worker; a second worker exits at once
    <home>/runs/<run>/train.log   each job's output

A submitted job is a prepared run (folder, splits, "queued" in the tracking store); the worker starts it with
`python -m ftlab.jobs run RUN`, the same `resume` path as `ftlab train --resume`, in a new session so that
neither the app's nor the worker's death stops it. A job of `nproc` N > 1 runs under `torchrun --nproc_per_node N`
(data-parallel: `ftlab.distributed`), with N free GPUs where there are GPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psutil
from filelock import FileLock, Timeout

from ftlab import distributed, runs
from ftlab.runs import CANCEL_FILE
from ftlab.config import TrainConfig
from ftlab.errors import UserError
from ftlab.home import home

LOG_FILE = "train.log"
_POLL_SECONDS = 0.5
_LINGER_SECONDS = 3.0
"""An idle worker waits this long for new jobs before it exits."""


def log_path(run_id: str) -> Path:
    """The job's output (appended to by each attempt)."""
    return runs.run_dir(run_id) / LOG_FILE


def queue_dir() -> Path:
    path = home() / "queue"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_queue() -> dict[str, Any]:
    """queue.json as it is now; writers replace it atomically, so a reader needs no lock."""
    path = queue_dir() / "queue.json"
    queue = json.loads(path.read_text()) if path.is_file() else {}
    return {"pending": [], "active": [], "concurrency": None, **queue}


@contextmanager
def _locked_queue() -> Iterator[dict[str, Any]]:
    """queue.json, read and written back under the queue lock."""
    path = queue_dir() / "queue.json"
    with FileLock(queue_dir() / "queue.lock", timeout=30):
        queue = _read_queue()
        yield queue
        tmp = path.with_name(f".queue.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(queue, indent=2))
        os.replace(tmp, path)


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def concurrency() -> int:
    """Jobs that may run at once: the saved setting, else one per GPU, else 1 (a CPU is shared by one job best)."""
    saved = _read_queue()["concurrency"]
    return int(saved) if saved else max(1, gpu_count())


def set_concurrency(value: int | None) -> None:
    """Save the concurrency (None: automatic). Running jobs go on; the next start obeys the new value."""
    if value is not None and (not isinstance(value, int) or value < 1):
        raise UserError(f"--concurrency must be a whole number of at least 1, not {value!r}. Example: --concurrency 2.")
    with _locked_queue() as queue:
        queue["concurrency"] = value


def submit(config: TrainConfig, *, gpu: int | None = None, nproc: int | None = None) -> str:
    """Validate and prepare a run now, queue it, make sure a worker is alive; returns the run id. `nproc`: how many
    data-parallel processes train it (1 when None)."""
    from ftlab.train import prepare

    _check_gpu(gpu)
    nproc = _check_nproc(nproc, gpu)
    if distributed.world().size > 1:
        raise UserError("--queue inside a torchrun launch would queue the run once per process; run `ftlab train "
                        "--queue --nproc N ...` on its own instead.")
    state = prepare(config)
    _enqueue(state.run_id, gpu, nproc)
    return state.run_id


def submit_resume(run_id: str, *, gpu: int | None = None, nproc: int | None = None) -> None:
    """Queue a cancelled or failed run to continue from its last checkpoint."""
    _check_gpu(gpu)
    nproc = _check_nproc(nproc, gpu)
    state = runs.refresh(runs.read_state(run_id))
    if state.status in ("running", "queued"):
        raise UserError(f"Run '{run_id}' is already {state.status}; nothing to resume.")
    if state.status == "finished":
        raise UserError(f"Run '{run_id}' already finished; start a new run to train further.")
    (runs.run_dir(run_id) / CANCEL_FILE).unlink(missing_ok=True)
    runs.set_status(state, "queued", error=None)
    _enqueue(run_id, gpu, nproc)


def _check_gpu(gpu: int | None) -> None:
    if gpu is not None and not 0 <= gpu < gpu_count():
        raise UserError(f"GPU {gpu} does not exist here ({gpu_count()} visible). Leave --gpu out to use any free one.")


def _check_nproc(nproc: int | None, gpu: int | None) -> int:
    """The number of processes, checked against the machine: a GPU each where there are GPUs, else a core each."""
    if nproc is None:
        return 1
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise UserError(f"--nproc must be a whole number of at least 1, not {nproc!r}. Example: --nproc 2.")
    if nproc == 1:
        return 1
    if gpu is not None:
        raise UserError(f"--gpu pins a one-process job to a GPU; a job of --nproc {nproc} processes takes {nproc} "
                        "free GPUs. Drop --gpu.")
    gpus, cores = gpu_count(), os.cpu_count() or 1
    if gpus and nproc > gpus:
        raise UserError(f"--nproc {nproc} needs a GPU per process and {gpus} are visible; use --nproc {gpus} or "
                        "fewer.")
    if not gpus and nproc > cores:
        raise UserError(f"--nproc {nproc}: without a GPU each process needs a CPU core of its own and this machine "
                        f"has {cores}; use --nproc {cores} or fewer.")
    return nproc


def _enqueue(run_id: str, gpu: int | None, nproc: int = 1) -> None:
    with _locked_queue() as queue:
        queue["pending"].append({"run_id": run_id, "gpu": gpu, "nproc": nproc, "submitted": time.time()})
    ensure_worker()


def cancel(run_id: str) -> str:
    """Stop a job: a queued one leaves the queue, a running one stops gracefully with a checkpoint.

    Returns the run's status afterwards ("cancelled", or "stopping" while a running job finishes its step).
    """
    state = runs.refresh(runs.read_state(run_id))
    pending = False
    if any(job["run_id"] == run_id for job in _read_queue()["pending"]):
        with _locked_queue() as queue:
            pending = any(job["run_id"] == run_id for job in queue["pending"])
            queue["pending"] = [job for job in queue["pending"] if job["run_id"] != run_id]
    active = any(job["run_id"] == run_id and _alive(job) for job in _read_queue()["active"])
    if pending and not active:
        runs.set_status(state, "cancelled")
        return "cancelled"
    if state.status in ("running", "queued") or active:
        (runs.run_dir(run_id) / CANCEL_FILE).touch()  # read at the end of each step; the job checkpoints, then stops
        return "stopping"
    raise UserError(f"Run '{run_id}' is {state.status}, not queued or running; there is nothing to cancel.")


def list_jobs() -> list[dict[str, Any]]:
    """Running jobs, then queued ones in the order they will start.

    Pending jobs with no live worker (it crashed, or the machine rebooted) get a new worker here, so any look at
    the queue, from the app or the CLI, gets it moving again.
    """
    queue = _read_queue()
    if any(not _alive(job) for job in queue["active"]) and not worker_alive():
        with _locked_queue() as locked:  # nobody else will notice that these jobs ended
            _reap(locked, {})
        queue = _read_queue()
    active, pending = queue["active"], queue["pending"]
    if pending:
        ensure_worker()
    # A job that just ended stays listed until the worker has recorded how it ended (within a poll interval).
    jobs = [{"run_id": j["run_id"], "status": "running", "position": 0, "pid": j["pid"], "gpu": j.get("gpu"),
             "nproc": j.get("nproc", 1), "submitted": j.get("submitted")} for j in active]
    jobs += [{"run_id": j["run_id"], "status": "queued", "position": n, "pid": None, "gpu": j.get("gpu"),
              "nproc": j.get("nproc", 1), "submitted": j.get("submitted")} for n, j in enumerate(pending, start=1)]
    return jobs


def worker_alive() -> bool:
    probe = FileLock(queue_dir() / "worker.lock", timeout=0, is_singleton=False)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False


def ensure_worker() -> None:
    """Start the detached worker unless one is alive (a spare one started by a race exits at once)."""
    if worker_alive():
        return
    with open(queue_dir() / "worker.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "ftlab.jobs", "worker"], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, "FTLAB_HOME": str(home())})
    # Reap it when it exits, so a long-lived parent (the app) collects no zombies.
    threading.Thread(target=process.wait, daemon=True, name="ftlab-worker-reaper").start()


def work() -> None:
    """The worker loop: start pending jobs while fewer than `concurrency` run; exit once idle for a while."""
    lock = FileLock(queue_dir() / "worker.lock", timeout=0, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        return  # another worker is alive
    children: dict[int, subprocess.Popen] = {}
    idle_since: float | None = None
    while True:
        with _locked_queue() as queue:
            _reap(queue, children)
            limit = int(queue["concurrency"] or max(1, gpu_count()))
            while queue["pending"] and len(queue["active"]) < limit:
                job = queue["pending"][0]
                gpus = _free_gpus(job, queue["active"])
                if gpus is None:
                    break  # a multi-GPU job waits for enough free GPUs; the jobs behind it keep their turn
                queue["pending"].pop(0)
                child = _start_job(job, gpus)
                children[child.pid] = child
                queue["active"].append({**job, "pid": child.pid, "pid_started": psutil.Process(child.pid).create_time(),
                                        "started": time.time()})
            busy = bool(queue["pending"] or queue["active"])
            idle_since = None if busy else (idle_since or time.time())
            if idle_since and time.time() - idle_since > _LINGER_SECONDS:
                lock.release()  # under the queue lock: a submitter that sees no worker will start one
                return
        time.sleep(_POLL_SECONDS)


def _free_gpus(job: dict[str, Any], active: list[dict[str, Any]]) -> list[int] | None:
    """The job's GPUs: none on a CPU machine, its pinned one, else the first free ones (a one-process job shares
    GPU 0 when the concurrency exceeds the GPUs); None while fewer than a multi-process job needs are free."""
    if job.get("gpu") is not None:
        return [job["gpu"]]
    gpus, wanted = gpu_count(), job.get("nproc", 1)
    if not gpus:
        return []
    taken = {g for j in active for g in _gpus_of(j)}
    free = [g for g in range(gpus) if g not in taken]
    if wanted == 1:
        return [free[0] if free else 0]
    return free[:wanted] if len(free) >= wanted else None


def _gpus_of(job: dict[str, Any]) -> list[int]:
    """A started job's GPUs, saved as `gpu`: a number, or "0,1" for a multi-process job."""
    gpu = job.get("gpu")
    return [] if gpu is None else [int(g) for g in str(gpu).split(",")]


def job_command(run_id: str, nproc: int = 1) -> list[str]:
    """How the worker starts a job: `python -m ftlab.jobs run RUN`, under torchrun for several processes."""
    command = ["-m", "ftlab.jobs", "run", run_id]
    if nproc > 1:  # --standalone: a rendezvous on a free local port, so two multi-process jobs never collide
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *command]
    return [sys.executable, *command]


def _start_job(job: dict[str, Any], gpus: list[int]) -> subprocess.Popen:
    job["gpu"] = None if not gpus else gpus[0] if len(gpus) == 1 else ",".join(map(str, gpus))
    env = {**os.environ, "FTLAB_HOME": str(home())}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
    with open(log_path(job["run_id"]), "ab") as log:
        return subprocess.Popen(job_command(job["run_id"], job.get("nproc", 1)), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def _alive(job: dict[str, Any]) -> bool:
    try:
        process = psutil.Process(job["pid"])
        return abs(process.create_time() - job["pid_started"]) < 1.0 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap(queue: dict[str, Any], children: dict[int, subprocess.Popen]) -> None:
    """Drop finished jobs from `active`; a job that died before its run could record why is marked failed."""
    still = []
    for job in queue["active"]:
        child = children.get(job["pid"])
        if (child.poll() is None) if child is not None else _alive(job):
            still.append(job)
            continue
        children.pop(job["pid"], None)
        if not runs.state_path(job["run_id"]).is_file():
            continue  # deleted meanwhile
        state = runs.refresh(runs.read_state(job["run_id"]))
        if state.status == "queued":
            code = child.returncode if child is not None else "unknown"
            runs.set_status(state, "failed", error=f"the job process exited (code {code}) before training started; "
                                                   f"see {log_path(job['run_id'])}")
    queue["active"] = still
    for pid, child in list(children.items()):  # a job another process reaped from the queue: collect its exit
        if child.poll() is not None:
            children.pop(pid)


def run_job(run_id: str) -> None:
    """A job process: train a queued run (or resume a requeued one) through the same path as the CLI."""
    from ftlab.train import resume

    if distributed.on_main(lambda: _cancelled_while_starting(run_id)):  # one verdict for all of a job's processes
        return
    resume(run_id, progress=False, keep_cancel=True)


def _cancelled_while_starting(run_id: str) -> bool:
    if (runs.run_dir(run_id) / CANCEL_FILE).exists():
        runs.set_status(runs.read_state(run_id), "cancelled")
        return True
    return False


def main(argv: list[str]) -> int:
    if argv[:1] == ["worker"]:
        work()
        return 0
    if len(argv) == 2 and argv[0] == "run":
        import logging

        from ftlab.cli import quiet_libraries

        logging.basicConfig(level=logging.INFO, format="ftlab: %(message)s", stream=sys.stderr)
        quiet_libraries()
        try:
            run_job(argv[1])
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    print("usage: python -m ftlab.jobs worker | run RUN_ID", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
