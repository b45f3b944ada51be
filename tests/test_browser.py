"""End to end in a real browser: `streamlit run workbench/app.py`, driven in headless Debian Chromium by Playwright.

Jobs are launched from the Train page exactly as a user does; they train for real, in processes of their own.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from workbench_server import CHROMIUM_ARGS, WorkbenchServer, chromium_path

import ftlab
from ftlab import jobs, runs, tracking
from conftest import make_home

SCREENSHOT = os.environ.get("FTLAB_SCREENSHOT")
"""Where to save the live run page (docs/workbench-live-run.png was made this way); a temp folder by default."""
POINTS = re.compile(r"loss: (\d+) points")
expect.set_options(timeout=120_000)  # the first page load imports torch; a job's first points take a while on a CPU


@pytest.fixture()
def browser_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = make_home(tmp_path / "home")
    monkeypatch.setenv("FTLAB_HOME", str(home))  # this test reads the same home as the server and its jobs
    return home


@pytest.fixture()
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(120_000)
        yield page
        browser.close()


@pytest.fixture()
def server(browser_home: Path, tmp_path: Path) -> Iterator[WorkbenchServer]:
    server = WorkbenchServer(browser_home, tmp_path / "streamlit.log").start()
    yield server
    server.stop()
    for job in jobs.list_jobs():  # leave no training behind for the next test
        jobs.cancel(job["run_id"])


def launch_from_train_page(page: Page, server: WorkbenchServer, name: str, max_steps: int) -> None:
    page.goto(f"{server.url}/")  # Train is the default page
    page.get_by_test_id("stSelectbox").filter(has_text="Method").click()
    page.get_by_role("option", name="lora", exact=True).click()
    expect(page.get_by_text("Options of lora")).to_be_visible()  # the rerun for the new method has redrawn the form
    page.get_by_label("Max steps", exact=True).fill(str(max_steps))
    page.get_by_label("Run name", exact=True).fill(name)
    if not page.get_by_label("Train size", exact=True).is_visible():  # the expander keeps its state per session
        page.get_by_text("Advanced").click()
    for label, value in [("Train size", 64), ("Eval size", 16), ("Test size", 32), ("Batch size", 8),
                         ("Log steps", 1), ("Eval steps", 20), ("Save steps", 20)]:
        page.get_by_label(label, exact=True).fill(str(value))
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_text(f"Follow {name}")).to_be_visible()


def loss_points(page: Page) -> int:
    caption = page.get_by_text(POINTS)
    return int(POINTS.search(caption.inner_text()).group(1)) if caption.count() else 0


def wait_for_status(run_id: str, wanted: str, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while (status := ftlab.summary(run_id)["status"]) != wanted:
        assert status in ("queued", "running") and time.time() < deadline, f"{run_id} is {status}, wanted {wanted}"
        time.sleep(1)


def loss_steps(run_id: str) -> list[int]:
    return [step for step, _, _ in tracking.metric_history(runs.read_state(run_id).mlflow_run_id, "loss")]


def test_launch_watch_live_stop_and_find_both_in_runs(page: Page, server: WorkbenchServer, tmp_path: Path) -> None:
    launch_from_train_page(page, server, "live-run", max_steps=80)
    page.get_by_text("Follow live-run").click()
    expect(page.get_by_text(POINTS)).to_be_visible()
    seen = {loss_points(page)}
    deadline = time.time() + 240
    while len(seen) < 3 and ftlab.summary("live-run")["status"] == "running" and time.time() < deadline:
        time.sleep(0.5)  # the fragment redraws on its own: no reload, no click
        seen.add(loss_points(page))
    assert len(seen) >= 3, f"the live loss chart did not gain points while the job ran: {sorted(seen)}"
    page.locator(".js-plotly-plot").first.wait_for()
    page.screenshot(path=SCREENSHOT or str(tmp_path / "live-run.png"), full_page=True)
    wait_for_status("live-run", "finished")
    expect(page.get_by_text("loss: 80 points, steps 1–80")).to_be_visible()

    launch_from_train_page(page, server, "stopped-run", max_steps=5000)
    page.goto(f"{server.url}/run?run=stopped-run")
    expect(page.get_by_text(POINTS)).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    wait_for_status("stopped-run", "cancelled", timeout=120)
    expect(page.get_by_text("cancelled", exact=True).first).to_be_visible()
    assert runs.last_checkpoint("stopped-run") is not None, "the stop wrote a checkpoint"

    page.goto(f"{server.url}/runs")
    rows = page.get_by_test_id("stDataFrame").locator("tr")  # the grid's accessible table, cell text included
    expect(rows.filter(has_text="live-run")).to_contain_text("finished")
    expect(rows.filter(has_text="stopped-run")).to_contain_text("cancelled")


def test_jobs_outlive_a_killed_server_and_show_full_curves_after_restart(page: Page, server: WorkbenchServer) -> None:
    launch_from_train_page(page, server, "first", max_steps=40)
    launch_from_train_page(page, server, "second", max_steps=40)
    deadline = time.time() + 120
    while [(j["run_id"], j["status"]) for j in jobs.list_jobs()] != [("first", "running"), ("second", "queued")]:
        assert time.time() < deadline, jobs.list_jobs()
        time.sleep(0.2)

    server.kill()
    assert server.process.poll() is not None, "the server is gone"
    wait_for_status("first", "finished")
    wait_for_status("second", "finished")
    assert loss_steps("first") == list(range(1, 41)) and loss_steps("second") == list(range(1, 41))

    server.start()
    for run_id in ("first", "second"):
        page.goto(f"{server.url}/run?run={run_id}")
        expect(page.get_by_text("loss: 40 points, steps 1–40")).to_be_visible()
        expect(page.get_by_text("finished", exact=True).first).to_be_visible()


def test_explain_page_shows_progress_cancels_and_keeps_what_finished(
        page: Page, trained_run: dict, ftlab_home: Path, tmp_path: Path) -> None:
    """A long LIME run is cancelled mid-way from the page; SHAP, finished before it, is then read from the cache."""
    text = "A dull and lifeless film that drags on and on, with flat jokes, wooden acting and a plot nobody could " \
           "care about, browser edition."
    server = WorkbenchServer(ftlab_home, tmp_path / "streamlit.log").start()
    try:
        page.goto(f"{server.url}/explain?run={trained_run['run_id']}")
        page.get_by_label("Text", exact=True).fill(text)
        page.get_by_text("Settings").click()
        samples = page.get_by_label("LIME samples", exact=True)
        samples.fill("10000")
        samples.press("Enter")
        expect(samples).to_have_value("10000")
        page.get_by_role("button", name="Explain", exact=True).click()
        expect(page.get_by_text(re.compile(r"^lime: A dull"))).to_be_visible()  # SHAP is done, LIME under way
        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_text("Explanation cancelled")).to_be_visible(timeout=15_000)
        expect(page.get_by_text(re.compile("^Predicted:"))).to_have_count(0)

        samples.fill("200")
        samples.press("Enter")
        expect(samples).to_have_value("200")
        started = time.time()
        page.get_by_role("button", name="Explain", exact=True).click()
        expect(page.get_by_text(re.compile("^Predicted:"))).to_be_visible()
        expect(page.get_by_text("Integrated gradients", exact=True)).to_be_visible()
        expect(page.get_by_text("Explanation cancelled")).to_have_count(0)
        print(f"explained after the cancel in {time.time() - started:.1f} s")
    finally:
        server.stop()
    from ftlab.explain import explain

    [e] = explain(trained_run["run_id"], text, ("shap", "lime"), trust=False, lime_samples=200)
    assert e.cached == {"shap": True, "lime": True}  # SHAP from before the cancel, LIME from the second click


def test_chat_panel_streams_tokens_as_they_are_generated(page: Page, sft_run: dict, ftlab_home: Path,
                                                         tmp_path: Path) -> None:
    """The base model's long answer appears piece by piece: the page shows part of it before the end."""
    server = WorkbenchServer(ftlab_home, tmp_path / "streamlit.log").start()
    try:
        page.goto(f"{server.url}/chat?run={sft_run['run_id']}")
        tokens = page.get_by_label("Max new tokens", exact=True)
        tokens.fill("160")
        tokens.press("Enter")
        expect(tokens).to_have_value("160")
        prompt = "Write a long story about a dragon who learns to bake bread."
        page.get_by_test_id("stChatInputTextArea").fill(prompt)
        page.get_by_test_id("stChatInputTextArea").press("Enter")
        answers = page.get_by_test_id("stChatMessage").filter(has_not_text=prompt)
        expect(answers).to_have_count(1)  # the fine-tuned run's answer has started
        seen: list[int] = []
        deadline = time.time() + 300
        while time.time() < deadline:
            texts = [t.strip() for t in answers.all_inner_texts()]
            seen.append(sum(len(t) for t in texts))
            if len(texts) == 2 and page.get_by_test_id("stChatInput").locator("textarea").is_enabled() and \
                    not page.get_by_test_id("stStatusWidget").is_visible():
                break
            time.sleep(0.1)
        final = seen[-1]
        partial = sorted({n for n in seen if 0 < n < final})
        assert final > 100, f"the answers are too short to stream: {final} characters"
        assert len(partial) >= 3, f"no partial output was shown before the end: lengths seen {sorted(set(seen))}"
    finally:
        server.stop()
