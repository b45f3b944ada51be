"""The Runs and Compare pages (AppTest) and `ftlab.compare`, on real tiny trainings in a home of their own.

Runs-page bookkeeping (dead processes, deletion, refusal) uses hand-made run records in a fresh home: it needs a
status on disk and a tracking record, not a trained model.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import ftlab
from conftest import CHECKOUT, make_home
from ftlab import compare, runs, tracking
from ftlab.cli import main
from ftlab.curves import smooth
from ftlab.errors import UserError

APP = str(CHECKOUT / "workbench" / "app.py")
FULL, LORA = "cmp-full", "cmp-lora"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    """Two real 4-step fine-tunes that differ in method, learning rate and a method option."""
    import torch

    previous = os.environ.get("FTLAB_HOME")
    os.environ["FTLAB_HOME"] = str(make_home(tmp_path_factory.mktemp("compare_home")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: stay off the other core
    try:
        common = dict(dataset="rotten_tomatoes", train_size=64, eval_size=32, test_size=64, max_steps=4,
                      eval_steps=2, save_steps=4, log_steps=1)
        summaries = {
            FULL: ftlab.train(ftlab.TrainConfig(method="full", name=FULL, **common), progress=False),
            LORA: ftlab.train(ftlab.TrainConfig(method="lora", method_options={"r": 4}, learning_rate=1e-3,
                                                name=LORA, **common), progress=False),
        }
    finally:
        torch.set_num_threads(threads)
    yield summaries
    if previous is None:
        os.environ.pop("FTLAB_HOME", None)
    else:
        os.environ["FTLAB_HOME"] = previous


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(f"views/{name}.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table(at: AppTest, index: int = 0) -> pd.DataFrame:
    """A page's n-th table (Runs: the runs; Compare: costs, the config diff, then cost and value)."""
    return at.dataframe[index].value


def traces(at: AppTest, chart: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A plotly chart's lines by name (not the faint raw points under smoothed ones), arrays decoded. Runs and
    Compare pages: chart 0 is the curves; Compare's chart 1 is the cost frontier."""
    def values(data) -> np.ndarray:
        if isinstance(data, dict):
            return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        return np.asarray(data, dtype=float)

    spec = json.loads(at.get("plotly_chart")[chart].proto.spec)
    return {t["name"]: (values(t["x"]), values(t["y"])) for t in spec["data"] if t.get("showlegend", True)}


def fake_run(run_id: str, *, status: str, method: str = "full", pid: int | None = None,
             pid_started: float | None = None) -> runs.RunState:
    """A run record as training leaves it (folder, config, state, tracking record), without the training."""
    folder = runs.create_run_dir(run_id)
    (folder / "config.yaml").write_text(ftlab.TrainConfig(method=method, name=run_id).to_yaml())
    (folder / "checkpoints").mkdir()
    state = runs.RunState(run_id=run_id, status=status, pid=pid, pid_started=pid_started)
    state.mlflow_run_id = tracking.start_run(run_id, tags={"task": "classification", "method": method,
                                                           "model": "minilm", "dataset": "rotten_tomatoes",
                                                           "main_metric": "accuracy"}, params={"method": method})
    tracking.log_metrics(state.mlflow_run_id, {"loss": 0.7}, step=1)
    tracking.set_status(state.mlflow_run_id, status)
    runs.write_state(state)
    return state


def dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


# -- Runs page -------------------------------------------------------------------------------------------------

def test_runs_page_lists_filters_and_sorts(store: dict[str, dict]) -> None:
    at = page("runs")
    rows = table(at)
    assert set(rows["run_id"]) == {FULL, LORA}
    assert set(rows["status"]) == {"finished"}
    assert set(rows["link"]) == {f"run?run={FULL}", f"run?run={LORA}"}
    by_run = rows.set_index("run_id")
    assert by_run.loc[LORA, "trainable_params"] == store[LORA]["param_counts"]["trainable"]
    assert by_run.loc[FULL, "value"] == pytest.approx(store[FULL]["main_metric"]["value"])

    link = at.get("page_link")[0].proto  # to Compare, with the runs shown
    assert link.page.endswith("compare") and set(parse_qs(link.query_string)["runs"][0].split(",")) == {FULL, LORA}

    at.multiselect(key="runs_method").set_value(["lora"]).run()
    assert list(table(at)["run_id"]) == [LORA]
    assert "1 of 2 runs" in at.caption[0].value

    at.multiselect(key="runs_method").set_value([]).run()
    at.selectbox(key="runs_sort").set_value("value").run()
    at.toggle(key="runs_descending").set_value(False).run()
    values = list(table(at)["value"])
    assert values == sorted(values)


def test_a_dead_jobs_run_shows_failed(fresh_home: Path) -> None:
    fake_run("ghost", status="running", pid=dead_pid(), pid_started=0.0)
    fake_run("done", status="finished")
    rows = table(page("runs")).set_index("run_id")
    assert rows.loc["ghost", "status"] == "failed"
    assert "resume" in rows.loc["ghost", "error"]
    assert rows.loc["done", "status"] == "finished"
    assert {r["run_id"]: r["status"] for r in ftlab.list_runs()} == {"ghost": "failed", "done": "finished"}


def test_delete_needs_confirmation_then_removes_the_run(fresh_home: Path) -> None:
    fake_run("keep", status="finished")
    fake_run("doomed", status="failed", method="lora")
    at = page("runs")
    at.selectbox(key="runs_delete_pick").set_value("doomed").run()
    assert at.button(key="runs_delete").disabled, "no deletion before the confirmation box is ticked"
    assert runs.run_dir("doomed").is_dir() and "doomed" in {r["run_id"] for r in ftlab.list_runs()}

    at.checkbox(key="runs_delete_sure").check().run()
    assert not at.button(key="runs_delete").disabled
    at.button(key="runs_delete").click().run()
    assert not at.exception and not at.error
    assert "Deleted run doomed" in at.success[0].value
    assert [r["run_id"] for r in ftlab.list_runs()] == ["keep"]
    assert not runs.run_dir("doomed").exists()
    assert list(table(at)["run_id"]) == ["keep"]
    assert not at.checkbox(key="runs_delete_sure").value, "the next deletion asks again"


def test_deleting_a_running_run_is_refused_inline(fresh_home: Path) -> None:
    state = fake_run("busy", status="running")
    runs.claim(state)  # owned by this (live) test process
    runs.write_state(state)
    at = page("runs")
    at.selectbox(key="runs_delete_pick").set_value("busy")
    at.checkbox(key="runs_delete_sure").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert "ftlab cancel busy" in at.error[0].value
    assert runs.run_dir("busy").is_dir() and [r["status"] for r in ftlab.list_runs()] == ["running"]


def test_delete_run_refuses_queued_and_forgets_finished(fresh_home: Path) -> None:
    fake_run("waiting", status="queued")
    with pytest.raises(UserError, match="cancel it first with `ftlab cancel waiting`"):
        runs.delete_run("waiting")
    state = fake_run("orphan", status="finished")
    shutil.rmtree(runs.run_dir("orphan"))  # a folder removed by hand: the tracking record can still go
    runs.delete_run("orphan")
    assert tracking.client().get_run(state.mlflow_run_id).info.lifecycle_stage == "deleted"
    assert [r["run_id"] for r in ftlab.list_runs()] == ["waiting"]
    with pytest.raises(UserError, match="Unknown run 'orphan'"):
        runs.delete_run("orphan")


def test_cli_delete_asks_for_yes(fresh_home: Path, capsys: pytest.CaptureFixture) -> None:
    fake_run("old", status="cancelled")
    assert main(["delete", "old"]) == 2 and runs.run_dir("old").is_dir()
    assert "--yes" in capsys.readouterr().err
    assert main(["delete", "old", "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": "old", "status": "deleted"}
    assert not runs.run_dir("old").exists() and ftlab.list_runs() == []


# -- Compare page ----------------------------------------------------------------------------------------------

def test_compare_page_overlays_costs_and_diffs(store: dict[str, dict]) -> None:
    at = page("compare", runs=f"{FULL},{LORA}")
    assert at.multiselect(key="compare_runs").value == [FULL, LORA]

    costs = table(at, 0).set_index("run_id")
    assert list(costs.index) == [FULL, LORA]
    for run_id in (FULL, LORA):
        assert costs.loc[run_id, "trainable_params"] == store[run_id]["param_counts"]["trainable"]
    assert costs.loc[FULL, "trainable_pct"] == pytest.approx(100)
    assert costs.loc[LORA, "trainable_pct"] < 1

    diff = table(at, 1)
    assert {"method", "learning_rate", "method_options.r"} <= set(diff.index)
    assert diff.loc["method"].tolist() == ["full", "lora"] and diff.loc["learning_rate", LORA] == "0.001"
    assert "seed" not in diff.index

    curves = traces(at)
    assert set(curves) == {FULL, LORA}
    assert list(curves[FULL][0]) == [1, 2, 3, 4]

    at.selectbox(key="compare_metric").set_value("eval_loss")
    at.radio(key="compare_x").set_value("wall")
    at.toggle(key="compare_all_fields").set_value(True).run()
    assert not at.exception
    curves = traces(at)
    assert set(curves) == {FULL, LORA}
    assert all(len(x) == 2 and 0 < x[0] < x[1] for x, _ in curves.values()), "seconds since each run's start"
    assert "seed" in table(at, 1).index


def test_compare_page_weighs_cost_against_quality(store: dict[str, dict]) -> None:
    at = page("compare", runs=f"{FULL},{LORA}")
    costs = table(at, 2).set_index("run_id")
    assert costs.loc[FULL, "train_flops"] > costs.loc[LORA, "train_flops"] > 0  # full also trains every weight
    assert costs.loc[FULL, "flops_formula"].startswith("2·N·T + 2·N_back·T + 2·N_train·T = 6.0")
    assert "money" not in costs.columns  # no price set: no made-up money
    frontier = traces(at, 1)["runs"]
    assert sorted(frontier[0]) == sorted(costs["train_flops"])

    at.number_input(key="compare_price").set_value(2.0)
    at.selectbox(key="compare_cost_axis").set_value("money").run()
    assert not at.exception
    costs = table(at, 2).set_index("run_id")
    for run_id in (FULL, LORA):
        assert costs.loc[run_id, "money"] == pytest.approx(2.0 * store[run_id]["wall_seconds"] / 3600, rel=1e-3)
    assert costs["on_frontier"].any()


def test_compare_smoothing_draws_the_ema_over_faint_raw_points(store: dict[str, dict]) -> None:
    at = page("compare", runs=f"{FULL},{LORA}")
    at.slider(key="compare_smoothing").set_value(0.6).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert len(spec) == 4 and sum(t.get("showlegend", True) for t in spec) == 2, "a smoothed line per run + raw"
    raw = compare.overlay_curves([LORA], "loss")["value"].to_numpy()
    assert traces(at)[LORA][1] == pytest.approx(smooth(raw, 0.6))
    assert not np.allclose(smooth(raw, 0.6), raw)


def test_compare_page_without_runs_and_with_a_deleted_one(store: dict[str, dict]) -> None:
    at = page("compare")
    assert "Pick runs" in at.info[0].value and not at.get("plotly_chart")
    at = page("compare", runs=f"{LORA},gone-run")
    assert "gone-run" in at.warning[0].value
    assert at.multiselect(key="compare_runs").value == [LORA]
    assert list(traces(at)) == [LORA]


# -- ftlab.compare ---------------------------------------------------------------------------------------------

def test_overlay_curves_by_step_and_wall_time(store: dict[str, dict]) -> None:
    by_step = compare.overlay_curves([FULL, LORA], metric="loss", x="step")
    assert list(by_step.columns) == ["run_id", "x", "value"]
    for run_id in (FULL, LORA):
        history = tracking.metric_history(store[run_id]["mlflow_run_id"], "loss")
        part = by_step[by_step.run_id == run_id]
        assert part["x"].tolist() == [step for step, _, _ in history]
        assert part["value"].tolist() == pytest.approx([value for _, value, _ in history])
    wall = compare.overlay_curves([LORA], metric="loss", x="wall")
    assert 0 < wall["x"].iloc[0] and wall["x"].is_monotonic_increasing, "from the model's build, before step 1"
    assert compare.overlay_curves([LORA], metric="trainable_params", x="wall")["x"].tolist() == [0.0]
    assert compare.overlay_curves([FULL], metric="never_logged").empty
    with pytest.raises(UserError, match="'step' or 'wall'"):
        compare.overlay_curves([FULL], x="time")  # type: ignore[arg-type]


def test_curve_metrics_offers_curves_not_one_off_values(store: dict[str, dict]) -> None:
    metrics = compare.curve_metrics([FULL, LORA])
    assert metrics[:2] == ["loss", "eval_loss"] and "eval_accuracy" in metrics
    assert not {"test_accuracy", "trainable_params", "wall_seconds", "peak_rss_mb"} & set(metrics)


def test_config_diff_rows_are_fields_that_differ(store: dict[str, dict]) -> None:
    diff = compare.config_diff([FULL, LORA])
    assert list(diff.columns) == [FULL, LORA]
    assert {"method", "learning_rate", "learning_rate_used", "method_options.r"} == set(diff.index)
    assert diff.loc["method_options.r"].tolist() == [None, 4]
    assert diff.loc["learning_rate_used", FULL] == pytest.approx(5e-5)
    everything = compare.config_diff([FULL, LORA], all_fields=True)
    assert {"seed", "max_steps", "dataset"} <= set(everything.index) and "name" not in everything.index
    assert everything.loc["max_steps"].tolist() == [4, 4]
    assert compare.config_diff([FULL]).empty


def test_cost_quality_one_row_per_run(store: dict[str, dict]) -> None:
    costs = compare.cost_quality([LORA, FULL, LORA]).set_index("run_id")
    assert list(costs.index) == [LORA, FULL], "in the order given, each run once"
    for run_id, summary in store.items():
        row = costs.loc[run_id]
        counts = summary["param_counts"]
        assert row["trainable_params"] == counts["trainable"]
        assert row["trainable_pct"] == pytest.approx(100 * counts["trainable"] / counts["total"])
        assert row["method"] == summary["method"] and row["main_metric"] == "test accuracy"
        assert row["main_value"] == pytest.approx(summary["metrics"]["test_accuracy"])
        assert row["test_macro_f1"] == pytest.approx(summary["metrics"]["test_macro_f1"])
        assert row["wall_seconds"] > 0 and row["train_samples_per_s"] > 0 and row["peak_rss_mb"] > 0
    assert not any(c.startswith("test_support") for c in costs.columns)
    with pytest.raises(UserError, match="Unknown run 'nope'"):
        compare.cost_quality(["nope"])
