"""Runs after training: summaries, cached predictions, raw-text prediction, status bookkeeping."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import ftlab
from ftlab import runs, tracking
from ftlab.cli import main
from ftlab.errors import UserError


def test_status_vocabulary_maps_onto_mlflow() -> None:
    assert tracking.STATUS_TO_MLFLOW == {"queued": "SCHEDULED", "running": "RUNNING", "finished": "FINISHED",
                                         "failed": "FAILED", "cancelled": "KILLED"}


@pytest.mark.parametrize("name, key", [("eval_precision_<=50K", "eval_precision_le50K"),
                                       ("eval_f1_>50K", "eval_f1_gt50K"), ("f1_a=b", "f1_aeqb"),
                                       ("recall_très bien!", "recall_tr_s bien_"), ("eval_loss", "eval_loss")])
def test_metric_names_with_label_signs_become_keys_mlflow_accepts(name: str, key: str) -> None:
    from mlflow.utils.validation import _validate_metric_name

    assert tracking.metric_key(name) == key
    _validate_metric_name(key)


def test_trained_run_summary_and_predictions_table(trained_run: dict) -> None:
    assert trained_run["status"] == "finished"
    table, metrics = ftlab.predictions(trained_run["run_id"], "test")
    assert {"example_id", "text", "gold", "predicted", "prob_fresh", "prob_rotten", "confidence", "correct",
            "movie_name"} <= set(table.columns)
    assert table[["prob_fresh", "prob_rotten"]].sum(axis=1).round(5).eq(1).all()
    assert (table["correct"] == (table["gold"] == table["predicted"])).all()
    assert metrics["accuracy"] == pytest.approx(table["correct"].mean())
    assert metrics["accuracy"] == pytest.approx(trained_run["metrics"]["test_accuracy"])


def test_evaluate_cli_caches_and_refreshes(trained_run: dict, capsys: pytest.CaptureFixture) -> None:
    run_id = trained_run["run_id"]
    assert main(["evaluate", run_id, "--split", "validation", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    path = runs.run_dir(run_id) / "predictions" / "validation.parquet"
    stamp = path.stat().st_mtime_ns
    assert main(["evaluate", run_id, "--split", "validation", "--json"]) == 0
    assert path.stat().st_mtime_ns == stamp, "second call reads the cache"
    assert main(["evaluate", run_id, "--split", "validation", "--refresh", "--json"]) == 0
    refreshed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert path.stat().st_mtime_ns != stamp
    assert first["metrics"]["accuracy"] == pytest.approx(refreshed["metrics"]["accuracy"])
    assert first["examples"] == len(pd.read_parquet(path)) == 64


def test_predict_cli_json(trained_run: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", trained_run["run_id"], "--text", "A warm, funny film.", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run_id"] == trained_run["run_id"] and out["label"] in ("fresh", "rotten")
    assert set(out["probabilities"]) == {"fresh", "rotten"}
    assert sum(out["probabilities"].values()) == pytest.approx(1.0)


def test_methods_json_lists_trainable_fractions(capsys: pytest.CaptureFixture) -> None:
    assert main(["methods", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"full", "freeze", "bitfit", "lora", "ia3", "prompt_tuning", "p_tuning", "prefix_tuning",
                         "adapters", "distill"}
    assert rows["full"]["trainable_fraction"] == 1.0
    for cheap in ("bitfit", "lora", "ia3", "prompt_tuning", "p_tuning", "adapters"):
        assert 0 < rows[cheap]["trainable_fraction"] < 0.02, (cheap, rows[cheap])
    assert rows["prompt_tuning"]["trainable_params"] < rows["lora"]["trainable_params"]
    assert 0.05 < rows["freeze"]["trainable_fraction"] < 0.5
    assert 0 < rows["prefix_tuning"]["trainable_fraction"] < 0.01  # n·N·2·d keys and values (no MLP by default)
    assert all("classification" in r["tasks"] for r in rows.values())
    # distill needs a teacher run: listed, not measured, with the reason
    assert rows["distill"]["trainable_fraction"] is None and "--distill-teacher" in rows["distill"]["note"]
    assert "ner" not in rows["prompt_tuning"]["tasks"] and "ner" not in rows["prefix_tuning"]["tasks"]


def test_a_run_whose_process_died_reads_as_failed(fresh_home) -> None:
    runs.create_run_dir("ghost")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = runs.RunState(run_id="ghost", status="running", pid=int(dead.stdout), pid_started=0.0)
    runs.write_state(state)
    assert runs.refresh(runs.read_state("ghost")).status == "failed"
    assert "resume" in runs.read_state("ghost").error


def test_unknown_run_lists_known_ones(trained_run: dict) -> None:
    with pytest.raises(UserError, match=trained_run["run_id"]):
        runs.read_state("no-such-run")


def test_cancel_writes_a_checkpoint_and_resume_finishes(fresh_home) -> None:
    from transformers import TrainerCallback

    class CancelAtStep3(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 3:
                (runs.run_dir("cancel-me") / "CANCEL").touch()  # what the app's Stop button does

    config = ftlab.TrainConfig(dataset="rotten_tomatoes", train_size=32, eval_size=16, max_steps=6, batch_size=4,
                               log_steps=1, save_steps=100, name="cancel-me")
    cancelled = ftlab.train(config, plugins=ftlab.Plugins(callbacks=[CancelAtStep3()]), progress=False)
    assert cancelled["status"] == "cancelled"
    assert runs.last_checkpoint("cancel-me").name == "checkpoint-4"
    finished = ftlab.resume("cancel-me", progress=False)
    assert finished["status"] == "finished"
    steps = [s for s, _, _ in tracking.metric_history(finished["mlflow_run_id"], "loss")]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_early_stopping_stops_when_the_metric_stalls(fresh_home) -> None:
    # A learning rate this small cannot move accuracy, so evaluation 2 shows no improvement over evaluation 1.
    config = ftlab.TrainConfig(dataset="rotten_tomatoes", train_size=64, eval_size=16, max_steps=40, batch_size=4,
                               learning_rate=1e-12, eval_steps=2, save_steps=2, early_stopping_patience=1,
                               name="early")
    result = ftlab.train(config, progress=False)
    assert result["status"] == "finished"
    evals = [s for s, _, _ in tracking.metric_history(result["mlflow_run_id"], "eval_accuracy")]
    assert evals[:2] == [2, 4] and max(evals) < 40, evals
