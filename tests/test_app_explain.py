"""The Explain page (AppTest) on the session's real fine-tuned run: methods side by side, trust, picker, global view."""

from __future__ import annotations

from conftest import open_page
from streamlit.testing.v1 import AppTest

import ftlab

def explain_page(**query: str) -> AppTest:
    return open_page("explain", **query)


def small_settings(at: AppTest) -> None:
    for label, value in [("SHAP evaluations", 60), ("LIME samples", 100), ("IG steps", 8)]:
        next(n for n in at.number_input if n.label == label).set_value(value)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_three_methods_side_by_side_with_trust_scores(trained_run: dict) -> None:
    at = explain_page(run="session-full")
    at.text_area[0].set_value("The film was awful, a dull mess.")
    small_settings(at)
    button(at, "Explain").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    predicted = ftlab.predict("session-full", ["The film was awful, a dull mess."])[0]["label"]
    assert f"Predicted: {predicted}" in [h.value for h in at.subheader]
    titles = [m.value for m in at.markdown]
    assert {"**SHAP (Partition)**", "**LIME**", "**Integrated gradients**"} <= set(titles)
    faithfulness, agreement = at.dataframe[-2].value, at.dataframe[-1].value
    assert list(faithfulness["method"]) == ["shap", "lime", "ig"]
    assert len(agreement) == 3
    assert any("shap additivity holds" in c.value for c in at.caption)


def test_an_empty_text_is_a_clear_error(trained_run: dict) -> None:
    at = explain_page(run="session-full")
    at.text_area[0].set_value("   ")
    button(at, "Explain").click().run()
    assert "Nothing to explain" in at.error[0].value


def test_pick_an_error_from_the_test_predictions(trained_run: dict) -> None:
    at = explain_page(run="session-full")
    at.radio[0].set_value("Pick a test example").run()
    table, _ = ftlab.predictions("session-full", "test")
    assert f"{len(table)} of {len(table)} test examples match." in [c.value for c in at.caption]
    next(c for c in at.checkbox if c.label == "Errors only").check().run()
    wrong = int((~table["correct"]).sum())
    assert f"{wrong} of {len(table)} test examples match." in [c.value for c in at.caption]


def test_the_global_view_over_test_texts(trained_run: dict) -> None:
    at = explain_page(run="session-full")
    next(n for n in at.number_input if n.label.startswith("Test texts to explain")).set_value(20)
    button(at, "Compute the global view").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("20 test texts") for c in at.caption)
    assert len(at.get("plotly_chart")) == 1


def test_an_unknown_run_is_named(trained_run: dict) -> None:
    at = explain_page(run="nope")
    assert "Run 'nope' is unknown or not finished" in at.error[0].value
