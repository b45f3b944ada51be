"""The Fairness page (AppTest): slice tables with intervals on a real adult_text run, keyword groups edited in the
page, worst slices with their examples, uploads, and every bad input as one clear inline error.

The adult_text run is the session's tiny (8 LoRA steps) but real `adult-plain`, with an 800-row test sample.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import open_page
from streamlit.testing.v1 import AppTest

import fixtures as fx
import ftlab
from ftlab.evaluate import read_split
from ftlab.slices import discover, keyword_groups, slice_report

TIMEOUT = 300


ADULT = "adult-plain"
"""The session's small plain adult_text run (tests/conftest.py `adult_runs`): 800 scored test rows."""


@pytest.fixture(scope="module")
def adult_table(adult_runs: dict) -> pd.DataFrame:
    return ftlab.predictions(adult_runs["plain"])[0]


def fairness(**query: str) -> AppTest:
    return open_page("fairness", timeout=TIMEOUT, **query)


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The page's first table with that column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def numbers(array: list | dict) -> list[float]:
    """A plotly JSON array: a list, or plotly's typed-array form {"dtype": "f8", "bdata": base64}."""
    if isinstance(array, list):
        return array
    return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()


def errors(at: AppTest) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


def rerun(changed) -> AppTest:
    """Run the page again after a change to `changed` (a widget, or the AppTest itself)."""
    at = changed.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_sex_and_race_slices_with_intervals_add_up_to_the_split(adult_table: pd.DataFrame) -> None:
    at = fairness(run=ADULT)
    assert at.radio(key="fairness.kind").value == "Metadata columns"
    assert at.multiselect(key="fairness.columns").value == ["sex"]
    rerun(at.multiselect(key="fairness.columns").set_value(["sex", "race"]))
    assert errors(at) == []
    shown = frame_with(at, "note")
    split = len(read_split(ADULT, "test"))
    assert shown["slice"].iloc[0] == "(all)" and shown["count"].iloc[0] == len(adult_table) == split
    assert shown["count"].iloc[1:].sum() == len(adult_table)
    expected = slice_report(adult_table, by=["sex", "race"], n_boot=1000).to_frame()
    assert shown["slice"].tolist() == expected["slice"].tolist()
    assert "Female & White" in shown["slice"].tolist()
    for column in ("count", "accuracy", "accuracy_low", "accuracy_high", "false_positive_rate_high"):
        assert shown[column].tolist() == pytest.approx(expected[column].tolist(), nan_ok=True)
    assert (shown["note"] != "").tolist() == expected["small"].tolist()
    assert expected["small"].any() and not expected["small"].all()  # some race groups are small: flagged, not dropped
    assert any("fewer than 30 examples" in w.value for w in at.warning)
    # The gaps and, for two labels, demographic parity and equalized odds, with intervals.
    gaps = frame_with(at, "value")
    report = slice_report(adult_table, by=["sex", "race"], n_boot=1000)
    assert gaps.loc["Difference between slices (largest − smallest)", "value"] == pytest.approx(report.difference())
    assert gaps.loc["Difference between slices (largest − smallest)", "high"] == pytest.approx(
        report.difference_ci()[1])
    fairness_table = [d.value for d in at.dataframe if "Equalized odds difference (TPR and FPR gaps)" in d.value.index]
    assert fairness_table and fairness_table[0]["value"].tolist() == pytest.approx(report.fairness["value"].tolist())
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = [y for trace in chart["data"] for y in numbers(trace["y"])]
    assert sorted(points) == pytest.approx(sorted(expected["accuracy"].iloc[1:]))
    assert chart["layout"]["shapes"][0]["y0"] == pytest.approx(expected["accuracy"].iloc[0])  # the overall line


def test_a_bootstrap_setting_and_metric_change_the_report(adult_table: pd.DataFrame) -> None:
    at = fairness(run=ADULT)
    at.selectbox(key="fairness.metric").set_value("selection_rate")
    rerun(at.number_input(key="fairness.n_boot").set_value(0))
    shown = frame_with(at, "note")
    assert shown.columns[3] == "selection_rate" and shown["selection_rate_low"].isna().all()


def test_edited_keyword_groups_are_the_slices(trained_run: dict) -> None:
    at = fairness(run="session-full")
    assert at.radio(key="fairness.kind").value == "Keyword groups"  # movie_name has too many values to compare
    rerun(at.text_area(key="fairness.keywords").set_value(fx.APP_KEYWORD_GROUPS))
    assert errors(at) == []
    table = ftlab.predictions("session-full")[0]
    expected = keyword_groups(table, {"critics": ["critic", "critics"], "funny": ["funny", "fun", "laugh", "laughs"]})
    shown = frame_with(at, "note")
    assert shown["slice"].tolist()[1:] == [c for c in expected.cat.categories if (expected == c).any()]
    assert shown["count"].tolist()[1:] == expected.value_counts(sort=False).loc[shown["slice"].iloc[1:]].tolist()
    # The edit holds for the session: another page and back keeps it.
    rerun(at.switch_page("views/errors.py"))
    rerun(at.switch_page("views/fairness.py"))
    assert at.text_area(key="fairness.keywords").value == fx.APP_KEYWORD_GROUPS


@pytest.mark.parametrize("yaml_text, expect", [
    (fx.APP_KEYWORDS_EMPTY_GROUP, ["Keyword group 'funny' in the edited keyword-groups text is empty"]),
    (fx.APP_KEYWORDS_BROKEN, ["The edited keyword-groups text is not valid YAML at line"]),
])
def test_bad_keyword_groups_are_named(trained_run: dict, yaml_text: str, expect: list[str]) -> None:
    at = fairness(run="session-full")
    rerun(at.text_area(key="fairness.keywords").set_value(yaml_text))
    assert len(errors(at)) == 1 and all(part in at.error[0].value for part in expect), errors(at)
    assert "/tmp" not in at.error[0].value and not at.get("plotly_chart")


def test_worst_slices_show_the_chosen_slices_examples(trained_run: dict) -> None:
    at = fairness(run="session-full")
    table = ftlab.predictions("session-full")[0]
    found = discover(table)
    ranked = frame_with(at, "lift")
    assert ranked["description"].tolist() == found.slices["description"].head(100).tolist()
    assert ranked["significant"].iloc[0]
    assert at.selectbox(key="worst.slice").value == found.slices.index[0]
    # A row selected in the table (the state the browser sends) picks its slice; so does the selectbox.
    at.session_state["worst.table"] = {"selection": {"rows": [2], "columns": []}}
    rerun(at)
    assert at.selectbox(key="worst.slice").value == found.slices.index[2]
    for chosen in (found.slices.index[2], found.slices.index[1]):
        rerun(at.selectbox(key="worst.slice").set_value(chosen))
        shown = frame_with(at, "explain")
        expected = found.examples(chosen)
        assert shown["explain"].tolist() == [f"explain?run=session-full&example={i}" for i in expected["example_id"]]
        assert shown["text"].tolist() == expected["text"].tolist()


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="source.kind").set_value("A labelled file")
    rerun(at)
    at.file_uploader(key="source.upload").upload(name, data, "text/plain")
    return rerun(at)


def uploaded_reviews(label_col: str = "verdict") -> AppTest:
    at = upload(fairness(run="session-full"), "reviews.csv", fx.APP_REVIEWS_CSV.encode())
    assert "Choose the text and label columns." in [i.value for i in at.info]  # there is no column called text
    next(s for s in at.selectbox if s.label == "Text column").set_value("review")
    next(s for s in at.selectbox if s.label == "Label column").set_value(label_col)
    return rerun(at)


def test_an_uploaded_file_is_scored_and_sliced(trained_run: dict) -> None:
    at = uploaded_reviews()
    assert errors(at) == []
    assert at.multiselect(key="fairness.columns").value == ["venue"]  # site and notes cannot be compared
    shown = frame_with(at, "note")
    assert dict(zip(shown["slice"], shown["count"])) == {"(all)": fx.APP_REVIEWS_ROWS, **fx.APP_REVIEWS_VENUES}
    assert (shown["note"].iloc[1:] != "").all()  # 3 and 4 examples: under 30, flagged
    gold = pd.read_csv(io.StringIO(fx.APP_REVIEWS_CSV))["verdict"]
    predicted = [p["label"] for p in ftlab.predict("session-full", pd.read_csv(
        io.StringIO(fx.APP_REVIEWS_CSV))["review"].tolist())]
    assert shown["accuracy"].iloc[0] == pytest.approx((gold == predicted).mean())
    assert "Slice discovery needs at least 40 rows" in at.warning[-1].value  # 7 rows: too few to search


@pytest.mark.parametrize("columns, expect", [
    (["site"], "Column 'site' has one value 'web'"),
    (["notes"], "Column 'notes' is empty (every value is missing)"),
])
def test_a_metadata_column_that_cannot_slice(trained_run: dict, columns: list[str], expect: str) -> None:
    at = uploaded_reviews()
    rerun(at.multiselect(key="fairness.columns").set_value(columns))
    assert len(errors(at)) == 1 and expect in at.error[0].value, errors(at)


def test_a_wrong_label_column(trained_run: dict) -> None:
    at = uploaded_reviews(label_col="venue")
    assert len(errors(at)) == 1, errors(at)
    assert "Labels ['blog', 'paper'] are not among the model's labels ['fresh', 'rotten']" in at.error[0].value


@pytest.mark.parametrize("name, data, expect", [
    ("reviews.jsonl", fx.JSONL_MALFORMED.encode(), "reviews.jsonl is not valid JSON at line 2"),
    ("photo.csv", fx.PNG_BYTES, "photo.csv is not UTF-8 text"),
])
def test_an_upload_that_is_not_a_table(trained_run: dict, name: str, data: bytes, expect: str) -> None:
    at = upload(fairness(run="session-full"), name, data)
    assert len(errors(at)) == 1 and expect in at.error[0].value, errors(at)
    assert "uploads/" not in at.error[0].value and not at.dataframe


def test_an_unknown_run_is_named(trained_run: dict) -> None:
    at = fairness(run="nope")
    assert "Run 'nope' is unknown or not finished" in errors(at)[0]
