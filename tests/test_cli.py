"""The CLI contract, run as a user runs it: a separate process, offline, from an unrelated working directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

SUMMARY_KEYS = {"run_id", "status", "task", "method", "model", "dataset", "main_metric", "metrics", "param_counts",
                "train_samples_per_second", "wall_seconds"}


def ftlab(*args: str, home: Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "FTLAB_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "ftlab.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_train_lora_json_runs_and_mlflow_history(fresh_home: Path) -> None:
    cwd = Path.cwd()
    done = ftlab("train", "--dataset", "rotten_tomatoes", "--method", "lora", "--max-steps", "30", "--train-size",
                 "480", "--eval-size", "64", "--test-size", "64", "--json", home=fresh_home, cwd=cwd)
    result = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert SUMMARY_KEYS <= set(result)
    assert result["status"] == "finished" and result["method"] == "lora" and result["dataset"] == "rotten_tomatoes"
    assert result["main_metric"]["name"] == "accuracy" and 0 <= result["main_metric"]["value"] <= 1
    assert 0 < result["param_counts"]["trainable"] < result["param_counts"]["total"] * 0.01
    assert result["train_samples_per_second"] > 0 and result["wall_seconds"] > 0
    assert "%|" in done.stderr, "progress goes to stderr"

    listed = json.loads(ftlab("runs", "--json", home=fresh_home, cwd=cwd).stdout)
    assert [(r["run_id"], r["status"]) for r in listed] == [(result["run_id"], "finished")]
    assert SUMMARY_KEYS <= set(listed[0])

    # MLflow's own client reads the loss history from the store in the home.
    client = MlflowClient(tracking_uri=f"sqlite:///{fresh_home / 'mlflow.db'}")
    steps = [m.step for m in client.get_metric_history(result["mlflow_run_id"], "loss")]
    assert steps[0] == 1 and steps[-1] == 30 and len(steps) == len(set(steps))
    run = client.get_run(result["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["ftlab.method"] == "lora"
    assert run.info.artifact_uri.startswith((fresh_home / "mlartifacts").as_uri())
    assert (fresh_home / "runs" / result["run_id"] / "model" / "adapter_model.safetensors").is_file()
    predicted = json.loads(ftlab("predict", result["run_id"], "--text", "A warm, funny film.", "--json",
                                 home=fresh_home, cwd=cwd).stdout)
    assert predicted["run_id"] == result["run_id"] and set(predicted["probabilities"]) == {"fresh", "rotten"}
    assert list(cwd.iterdir()) == [], "nothing is written to the working directory (no ./mlruns)"


def test_kill_9_then_resume_continues_from_checkpoint(fresh_home: Path) -> None:
    cwd = Path.cwd()
    args = ["train", "--dataset", "rotten_tomatoes", "--train-size", "128", "--eval-size", "32", "--batch-size", "8",
            "--max-steps", "40", "--save-steps", "10", "--eval-steps", "20", "--log-steps", "1", "--test-size", "32",
            "--name", "k9"]
    env = {**os.environ, "FTLAB_HOME": str(fresh_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ftlab.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = fresh_home / "runs" / "k9" / "checkpoints" / "checkpoint-20" / "trainer_state.json"
    deadline = time.time() + 300
    while not checkpoint.is_file():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline, "no checkpoint within 5 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    listed = json.loads(ftlab("runs", "--json", home=fresh_home, cwd=cwd).stdout)
    assert [(r["run_id"], r["status"]) for r in listed] == [("k9", "failed")], "a dead run is never 'running'"

    resumed = json.loads(ftlab("train", "--resume", "k9", "--json", home=fresh_home, cwd=cwd).stdout)
    assert resumed["status"] == "finished"
    client = MlflowClient(tracking_uri=f"sqlite:///{fresh_home / 'mlflow.db'}")
    run_id = resumed["mlflow_run_id"]
    resumed_from = client.get_metric_history(run_id, "resumed_from_step")
    assert [int(m.value) for m in resumed_from] in ([20], [30]), "continued from the last checkpoint, not step 0"
    steps = [m.step for m in client.get_metric_history(run_id, "loss")]
    assert len(steps) == len(set(steps)), "no step appears twice"
    assert sorted(steps) == list(range(1, 41))
    eval_steps = [m.step for m in client.get_metric_history(run_id, "eval_loss")]
    assert sorted(eval_steps) == [20, 40]



def test_sigterm_stops_gracefully_with_a_checkpoint(fresh_home: Path) -> None:
    cwd = Path.cwd()
    args = ["train", "--dataset", "rotten_tomatoes", "--train-size", "128", "--eval-size", "16", "--batch-size", "8",
            "--max-steps", "200", "--save-steps", "1000", "--log-steps", "1", "--name", "term"]
    env = {**os.environ, "FTLAB_HOME": str(fresh_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ftlab.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{fresh_home / 'mlflow.db'}")
    state_file = fresh_home / "runs" / "term" / "state.json"
    deadline = time.time() + 300
    while True:  # wait until a few steps are logged
        assert proc.poll() is None and time.time() < deadline
        if state_file.is_file() and (mlflow_id := json.loads(state_file.read_text())["mlflow_run_id"]):
            if len(client.get_metric_history(mlflow_id, "loss")) >= 3:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == -signal.SIGTERM, "after the checkpoint the process still stops as asked"
    assert "cancelled at step" in stderr
    listed = json.loads(ftlab("runs", "--json", home=fresh_home, cwd=cwd).stdout)
    assert [(r["run_id"], r["status"]) for r in listed] == [("term", "cancelled")]
    checkpoints = list((fresh_home / "runs" / "term" / "checkpoints").glob("checkpoint-*/trainer_state.json"))
    assert len(checkpoints) == 1, "a checkpoint was written at the stop (none was due by --save-steps)"
