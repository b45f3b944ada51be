"""The Entities page (AppTest) on the session's real NER run: highlighted entities of a typed text, the per-type
report, the type confusion with a cell's sentences, the worst sentences, and a page without NER runs."""

from __future__ import annotations

import pytest
from conftest import open_page

import ftlab
from ftlab.analysis import confusion_sentences, type_confusion, type_report, worst_sentences

TIMEOUT = 300


@pytest.fixture(scope="module")
def ner_run(ner_runs: dict[str, dict]) -> str:
    return ner_runs["full"]["run_id"]


def html_of(at) -> str:
    return "\n".join(str(element.proto.body) for element in at.get("html"))


def test_page_shows_report_confusion_and_worst_sentences(ner_run: str) -> None:
    at = open_page("entities", timeout=TIMEOUT, run=ner_run)
    table, metrics = ftlab.predictions(ner_run, "test")
    assert at.selectbox(key="entities.run").value == ner_run
    assert f"entity micro-F1 {metrics['micro_f1']:.3f}" in at.caption[0].value

    [report] = [frame.value for frame in at.dataframe if "micro avg" in frame.value.index]
    assert list(report.index) == list(type_report(metrics).index)
    assert report.loc["micro avg", "f1"] == pytest.approx(metrics["micro_f1"])
    assert "person" in report.index and report.loc["person", "support"] == metrics["person_support"]

    # The cell picked first is the largest confusion off the diagonal; its sentences are listed.
    counts = type_confusion(table)
    gold, predicted = at.selectbox(key="entities.gold").value, at.selectbox(key="entities.predicted").value
    assert gold != predicted and counts.loc[gold, predicted] == max(
        counts.loc[g, p] for g in counts.index for p in counts.columns if g != p)
    cell = confusion_sentences(table, gold, predicted)
    worst = worst_sentences(table, 10)
    captions = [c.value for c in at.caption]
    shown = {int(c.split()[1]) for c in captions if c.startswith("sentence ")}
    assert set(cell["example_id"].head(20)) | set(worst["example_id"]) == shown
    page_html = html_of(at)
    assert "<b>gold</b>" in page_html and "<b>predicted</b>" in page_html


def test_typed_text_shows_its_entities(ner_run: str) -> None:
    from ftlab.evaluate import predict

    at = open_page("entities", timeout=TIMEOUT, run=ner_run)
    text = "Justin Bieber met Selena Gomez in Los Angeles"
    at = at.text_input(key="entities.text").input(text).run(timeout=TIMEOUT)
    assert not at.exception
    [expected] = predict(ner_run, [text])
    page_html = html_of(at)
    assert expected["entities"], "the tiny run finds no entity in the text"
    assert all(e["text"] in page_html and e["type"] in page_html for e in expected["entities"])
    at = at.button(key="entities.explain_button").click().run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    from ftlab.explain.entity import explain_entity

    explanation = explain_entity(ner_run, text, 0)
    assert f"convergence delta {explanation.delta:.1e}" in " ".join(c.value for c in at.caption)
    assert all(word in html_of(at) for word in explanation.words)


def test_without_an_ner_run_the_page_says_how_to_train_one(fresh_home) -> None:
    at = open_page("entities", timeout=TIMEOUT)
    assert "No finished NER run yet" in at.info[0].value and "wnut16" in at.info[0].value
