"""Data-parallel training: the same `ftlab train`, 2 processes on the CPU under torchrun (DDP over gloo).

Each launch is real: two processes load the embedded model, shard the batches, all-reduce their gradients and
stop together. What the ranks did is read back from the run's `distributed.json` (ftlab.ddp).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import fixtures as fx
import ftlab
from ftlab import jobs, runs, tracking
from ftlab.ddp import REPORT_FILE

TIMEOUT = 300


def torchrun(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ftlab.cli", *argv], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=TIMEOUT)


def log(run_id: str) -> str:
    path = jobs.log_path(run_id)
    return path.read_text()[-3000:] if path.is_file() else "(no log yet)"


def loss_steps(run_id: str) -> list[int]:
    return [step for step, _, _ in tracking.metric_history(runs.read_state(run_id).mlflow_run_id, "loss")]


def test_two_processes_train_one_run_on_disjoint_shards_with_identical_weights(fresh_home: Path) -> None:
    done = torchrun("train", *fx.DDP_FLAGS, "--name", "ddp", "--json")
    assert done.returncode == 0, done.stderr[-4000:]
    [line] = done.stdout.strip().splitlines()  # one JSON result, from rank 0 only
    result = json.loads(line)
    assert (result["run_id"], result["status"], result["world_size"]) == ("ddp", "finished", 2)
    assert result["main_metric"]["split"] == "test", "rank 0 scored the test split"

    # One launch, one run: one folder, one tracking record, every step logged once.
    assert [p.name for p in (fresh_home / "runs").iterdir()] == ["ddp"]
    assert [r.data.tags[tracking.TAG + "run_id"] for r in tracking.search_runs()] == ["ddp"]
    assert loss_steps("ddp") == list(range(1, fx.DDP_STEPS + 1))
    first_loss = tracking.metric_history(result["mlflow_run_id"], "loss")[0][1]
    assert 0.4 < first_loss < 1.0, f"2-class loss at initialisation is near ln 2, not {first_loss} (scaled by 2?)"
    tags = tracking.client().get_run(result["mlflow_run_id"]).data.tags
    assert tags[tracking.TAG + "samples_per_step"] == str(2 * fx.DDP_BATCH), "one step = 2 x the per-device batch"

    report = json.loads((fresh_home / "runs" / "ddp" / REPORT_FILE).read_text())
    assert report["world_size"] == 2 and report["backend"] == "gloo"
    ranks = report["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    train_ids = set(pd.read_parquet(fresh_home / "runs" / "ddp" / "splits" / "train.parquet")["example_id"])
    for epoch, steps in [("0", fx.DDP_STEPS_PER_EPOCH), ("1", fx.DDP_STEPS - fx.DDP_STEPS_PER_EPOCH)]:
        ids = [r["example_ids"][epoch] for r in ranks]
        assert [len(i) for i in ids] == [steps * fx.DDP_BATCH] * 2
        assert set(ids[0]).isdisjoint(ids[1]), f"the ranks' shards overlap in epoch {epoch}"
        assert set(ids[0]) | set(ids[1]) <= train_ids, "the shards come from the run's own training split"
    assert len(set(ranks[0]["example_ids"]["0"]) | set(ranks[1]["example_ids"]["0"])) == len(train_ids), \
        "one epoch covers the training split"
    start, end = ({r[key] for r in ranks} for key in ("params_sha256_start", "params_sha256_end"))
    assert len(end) == 1, "the replicas' weights differ after the steps"
    assert start != end, "the weights did not change: no step was taken"
    assert report["shards_disjoint"] and report["replicas_identical"]


def test_a_queued_two_process_job_trains_and_stops_on_cancel(fresh_home: Path) -> None:
    assert jobs.job_command("r", 2)[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run_id = jobs.submit(ftlab.TrainConfig(**{**fx.TINY_JOB, "max_steps": 200, "save_steps": 50}, name="ddp-job"),
                         nproc=2)
    try:
        assert [job["nproc"] for job in jobs.list_jobs()] == [2]
        deadline = time.time() + TIMEOUT
        while len(loss_steps(run_id)) < 2:
            assert time.time() < deadline, f"the job never logged; queue: {jobs.list_jobs()}, log: {log(run_id)}"
            assert runs.read_state(run_id).status in ("queued", "running"), log(run_id)
            time.sleep(0.5)
        assert jobs.cancel(run_id) == "stopping"
        while jobs.list_jobs():
            assert time.time() < deadline, "the job did not stop"
            time.sleep(0.5)
    finally:
        if jobs.list_jobs():  # a failed check must not leave the job (and its worker) behind
            jobs.cancel(run_id)

    record = ftlab.summary(run_id)
    assert (record["status"], record["world_size"]) == ("cancelled", 2), log(run_id)
    stopped_at = loss_steps(run_id)[-1]
    assert runs.last_checkpoint(run_id).name == f"checkpoint-{stopped_at}", "both ranks stopped at one step"
    report = json.loads((fresh_home / "runs" / run_id / REPORT_FILE).read_text())
    assert [r["steps"] for r in report["ranks"]] == [stopped_at] * 2
    assert report["replicas_identical"]


@pytest.mark.parametrize("active, nproc, expected", [
    ([{"gpu": "0,1"}], 2, [2, 3]),  # a 2-process job takes the free pair
    ([{"gpu": "0,1"}], 3, None),  # too few free: it waits
    ([{"gpu": 0}, {"gpu": "2,3"}], 1, [1]),
    ([], 4, [0, 1, 2, 3]),
])
def test_a_multi_process_job_gets_that_many_free_gpus(monkeypatch: pytest.MonkeyPatch, active: list[dict],
                                                      nproc: int, expected: list[int] | None) -> None:
    monkeypatch.setattr(jobs, "gpu_count", lambda: 4)
    assert jobs._free_gpus({"gpu": None, "nproc": nproc}, active) == expected


def test_the_train_page_launches_with_processes_checked_by_the_library(fresh_home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "workbench" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/train.py").run()
    assert at.selectbox(key="train.precision").options == ["unset", "fp32", "bf16", "fp16", "auto"]
    cores = os.cpu_count() or 1
    at.number_input(key="train.nproc").set_value(cores + 1)
    at.form_submit_button[0].click().run()
    assert not at.exception, at.exception
    shown = [e.value for e in at.error]
    assert any(f"--nproc {cores + 1}" in message and "or fewer" in message for message in shown), shown
    assert jobs.list_jobs() == [] and not any((fresh_home / "runs").glob("*")), "nothing started"
