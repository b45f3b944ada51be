"""The Errors page (AppTest) on the session's real fine-tuned run: a confusion cell's examples, the most confident
errors, calibration per slice, the per-class report, the embedding map, links to Explain, and bad input.

The session run predicts nearly every test review "fresh", so the cell (gold rotten, predicted fresh) holds about
half the split and (gold fresh, predicted rotten) may be empty: both are checked against the predictions table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import open_page
from streamlit.testing.v1 import AppTest

import ftlab
from ftlab.analysis import calibration_by_slice, class_report, confident_errors, expected_calibration_error
from ftlab.evaluate import predictions_path
from ftlab.slices import sensitive_features

from components.examples import LIMIT

TIMEOUT = 300


def errors_page(**query: str) -> AppTest:
    return open_page("errors", timeout=TIMEOUT, **query)


def rerun(changed) -> AppTest:
    """Run the page again after a change to `changed` (a widget, or the AppTest itself)."""
    at = changed.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def table() -> pd.DataFrame:
    return ftlab.predictions("session-full")[0]


def explain_links(ids: pd.Series) -> list[str]:
    return [f"explain?run=session-full&example={i}" for i in ids]


def test_a_confusion_cells_examples_are_its_rows(trained_run: dict) -> None:
    at = errors_page(run="session-full")
    assert not at.error, [e.value for e in at.error]
    full = table()
    for gold in ("fresh", "rotten"):
        for predicted in ("fresh", "rotten"):
            at.selectbox(key="errors.gold").set_value(gold)
            rerun(at.selectbox(key="errors.predicted").set_value(predicted))
            expected = full[(full["gold"] == gold) & (full["predicted"] == predicted)]
            if expected.empty:
                assert "No examples here." in [i.value for i in at.info]
                continue
            shown = frame_with(at, "explain")
            assert shown["explain"].tolist() == explain_links(expected["example_id"].head(LIMIT))
            assert set(shown["gold"]) == {gold} and set(shown["predicted"]) == {predicted}
            assert any(c.value.startswith(f"{len(expected)} example(s)") for c in at.caption)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["data"][0]["type"] == "heatmap"


def test_the_largest_error_cell_is_shown_first(trained_run: dict) -> None:
    at = errors_page(run="session-full")
    full = table()
    wrong = full[~full["correct"]].groupby(["gold", "predicted"]).size().idxmax()
    assert (at.selectbox(key="errors.gold").value, at.selectbox(key="errors.predicted").value) == wrong


def test_the_most_confident_errors(trained_run: dict) -> None:
    at = errors_page(run="session-full")
    rerun(at.number_input(key="errors.n").set_value(7))
    shown = [d.value for d in at.dataframe if "explain" in d.value.columns][1]  # after the confusion cell's table
    expected = confident_errors(table(), 7)
    assert shown["explain"].tolist() == explain_links(expected["example_id"])
    assert not shown["correct"].any() and shown["confidence"].is_monotonic_decreasing


def test_calibration_overall_and_per_slice(trained_run: dict) -> None:
    at = errors_page(run="session-full")
    full = table()
    ece = next(m for m in at.metric if m.label.startswith("Expected calibration error"))
    assert ece.value == f"{expected_calibration_error(full):.3f}"
    rerun(at.selectbox(key="errors.calibration_by").set_value("length"))
    shown = next(d.value for d in at.dataframe if "ece" in d.value.columns)
    expected = calibration_by_slice(full, sensitive_features(full, ["length"]))
    assert shown.index.tolist() == expected.index.tolist() and shown["count"].iloc[1:].sum() == len(full)
    assert shown["ece"].tolist() == pytest.approx(expected["ece"].tolist())


def test_the_per_class_report(trained_run: dict) -> None:
    at = errors_page(run="session-full")
    shown = next(d.value for d in at.dataframe if "f1-score" in d.value.columns)
    expected = class_report(table())
    assert shown.index.tolist() == expected.index.tolist()
    assert shown["support"].tolist() == expected["support"].tolist()


def test_the_embedding_map_is_drawn_on_demand(trained_run: dict) -> None:
    at = errors_page(run="session-full")
    charts = len(at.get("plotly_chart"))
    at.radio(key="errors.map_method").set_value("PCA")
    at.selectbox(key="errors.colour").set_value("correct")
    assert len(at.get("plotly_chart")) == charts  # nothing drawn before the button
    rerun(at.button(key="errors.draw_map").click())
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == charts + 1
    figure = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert {trace["name"] for trace in figure["data"]} == {str(v) for v in table()["correct"].unique()}
    assert sum(len(trace["hovertext"]) for trace in figure["data"]) == len(table())  # every text, on hover


def test_a_link_opens_its_example_on_the_explain_page(trained_run: dict) -> None:
    example = confident_errors(table(), 1).iloc[0]
    at = open_page("explain", timeout=TIMEOUT, run="session-full", example=str(example["example_id"]))
    assert not at.error, [e.value for e in at.error]
    assert at.radio(key="explain.source").value == "Pick a test example"
    picked = at.selectbox(key="explain.example")
    assert picked.value == example.name and str(example["text"])[:90] in picked.format_func(picked.value)


def test_a_link_to_an_unknown_example(trained_run: dict) -> None:
    at = open_page("explain", timeout=TIMEOUT, run="session-full", example="999999999")
    assert "Example '999999999' is not in this run's test split" in at.error[0].value


def test_a_run_without_predictions_offers_to_compute_them(trained_run: dict, tmp_path: Path) -> None:
    path = predictions_path("session-full", "test")
    saved = {p: tmp_path / p.name for p in (path, path.with_suffix(".metrics.json"))}
    for original, copy in saved.items():
        shutil.move(original, copy)
    try:
        at = errors_page(run="session-full")
        assert "Run 'session-full' has no test predictions yet" in at.error[0].value and not at.dataframe
        rerun(at.button(key="source.compute").click())
        assert not at.error, [e.value for e in at.error]
        assert path.is_file() and len(frame_with(at, "f1-score"))
    finally:
        for original, copy in saved.items():
            if not original.exists():
                shutil.move(copy, original)


def test_an_unknown_run_is_named(trained_run: dict) -> None:
    at = errors_page(run="nope")
    assert "Run 'nope' is unknown or not finished" in at.error[0].value
