"""The Run detail page (AppTest): curves and progress from the tracking store, final metrics, Stop and Resume.

AppTest never fires `run_every`, so the live ticking itself is shown by the browser test (test_browser.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import fixtures
from conftest import open_page
from streamlit.testing.v1 import AppTest

import ftlab
from ftlab import jobs, runs, tracking
from ftlab.train import prepare

def detail_page(**query: str) -> AppTest:
    return open_page("run", **query)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_finished_run_shows_its_curves_final_metrics_and_config(trained_run: dict) -> None:
    at = detail_page(run="session-full")
    steps = [s for s, _, _ in tracking.metric_history(trained_run["mlflow_run_id"], "loss")]
    assert f"loss: {len(steps)} points, steps {steps[0]}–{steps[-1]}" in [c.value for c in at.caption]
    assert metric(at, "Status") == "finished"
    assert at.get("progress")[0].value == 100, "step 24 of 24"
    assert button(at, "Stop").disabled and button(at, "Resume").disabled
    assert len(at.get("plotly_chart")) == 3, "loss, eval metrics and learning rate"
    accuracy = trained_run["main_metric"]["value"]
    assert metric(at, "test accuracy") == f"{accuracy:.4f}"
    assert any("method: full" in code.value for code in at.code)


def test_an_sft_run_shows_perplexity_and_links_to_its_chat(sft_run: dict, trained_run: dict) -> None:
    at = detail_page(run=sft_run["run_id"])
    assert metric(at, "test perplexity") == f"{sft_run['metrics']['test_perplexity']:.4f}"
    [link] = [p.proto for p in at.get("page_link") if p.proto.label == "Chat with this run"]
    assert (link.page, link.query_string) == ("chat", f"run={sft_run['run_id']}")
    assert not any(p.proto.label == "Chat with this run" for p in detail_page(run=trained_run["run_id"]).get("page_link"))


def test_the_live_panels_fast_store_read_matches_mlflows_client(trained_run: dict) -> None:
    keys = ["loss", "eval_loss", "learning_rate", "eval_accuracy", "never_logged"]
    fast = tracking.metric_histories(trained_run["mlflow_run_id"], keys)
    assert fast == {key: tracking.metric_history(trained_run["mlflow_run_id"], key) for key in keys}
    assert len(fast["loss"]) > 3 and fast["never_logged"] == []


def test_an_unknown_run_is_named_and_another_offered(trained_run: dict) -> None:
    at = detail_page(run="no-such-run")
    assert "Unknown run 'no-such-run'" in at.error[0].value
    assert at.selectbox[0].value in {r["run_id"] for r in ftlab.list_runs()}


def test_no_runs_points_to_the_train_page(fresh_home: Path) -> None:
    at = detail_page()
    assert "No runs yet" in at.info[0].value


def test_resume_a_cancelled_run_queues_it(fresh_home: Path) -> None:
    state = prepare(ftlab.TrainConfig(**fixtures.TINY_JOB, name="paused"))
    runs.set_status(state, "cancelled")
    at = detail_page(run="paused")
    assert metric(at, "Status") == "cancelled"
    assert "This run logged no metrics." in [i.value for i in at.info]
    assert button(at, "Stop").disabled and not button(at, "Resume").disabled

    button(at, "Resume").click().run()
    assert ftlab.summary("paused")["status"] in ("queued", "running")
    assert "paused" in [job["run_id"] for job in jobs.list_jobs()]
    assert metric(at, "Status") in ("queued", "running")
    assert not button(at, "Stop").disabled

    button(at, "Stop").click().run()
    deadline = time.time() + 120
    while jobs.list_jobs():
        assert time.time() < deadline, jobs.list_jobs()
        time.sleep(0.5)
    assert ftlab.summary("paused")["status"] in ("cancelled", "finished")
