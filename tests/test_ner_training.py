"""NER end to end on the embedded model and wnut16: a few real training steps for `full` and `lora`, per-type
seqeval scores logged to MLflow at every evaluation, the cached per-sentence predictions, and `ftlab predict`'s
entities with character offsets into the text."""

from __future__ import annotations

import json
import pytest

import ftlab
from ftlab import runs, tracking


@pytest.fixture(params=["full", "lora"])
def ner_run(request: pytest.FixtureRequest, ner_runs: dict[str, dict]) -> dict:
    return ner_runs[request.param]


def test_per_type_scores_are_logged_at_every_evaluation(ner_run: dict) -> None:
    mlflow_run = runs.read_state(ner_run["run_id"]).mlflow_run_id
    labels = runs.read_state(ner_run["run_id"]).labels
    types = sorted({tag[2:] for tag in labels if tag != "O"})
    assert {"person", "geo-loc", "company"} <= set(types) and len(types) == 10  # WNUT-16's ten entity types
    for key in ["eval_micro_f1", "eval_token_accuracy", "eval_person_f1", "eval_person_precision",
                "eval_geo-loc_recall", "eval_company_support"]:
        assert [step for step, _, _ in tracking.metric_history(mlflow_run, key)] == [3, 6], key
    assert ner_run["main_metric"]["name"] == "micro_f1"


def test_predictions_table_has_one_row_per_sentence(ner_run: dict) -> None:
    table, metrics = ftlab.predictions(ner_run["run_id"], "test")
    assert len(table) == 48 and {"micro_f1", "person_f1", "token_accuracy"} <= set(metrics)
    for row in table.itertuples():
        assert len(row.tokens) == len(row.gold_tags) == len(row.predicted_tags)
        assert row.text == " ".join(row.tokens)
        assert row.correct == (list(row.gold_tags) == list(row.predicted_tags))
    assert table["entities_missed"].sum() + table["entities_found"].sum() == sum(
        sum(tag.startswith("B-") for tag in tags) for tags in table["gold_tags"])


def test_cli_predict_returns_entities_with_offsets(ner_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.cli import main

    text = "Justin Bieber and Selena Gomez flew from New York to Paris with Apple and Nike people"
    assert main(["predict", ner_run["run_id"], "--text", text, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"run_id", "entities"} and result["run_id"] == ner_run["run_id"]
    for entity in result["entities"]:
        assert set(entity) == {"text", "type", "start", "end", "score"}
        assert text[entity["start"]:entity["end"]] == entity["text"] and 0 < entity["score"] <= 1


@pytest.mark.parametrize("argv, expected", [
    (["slices", "{run}", "--by", "text"], ["is a ner run", "`ftlab slices` covers classification runs",
                                           "ftlab evaluate", "Entities page"]),
    (["errors", "{run}"], ["is a ner run", "`ftlab errors` covers classification runs"]),
])
def test_classification_only_commands_refuse_an_ner_run(ner_run: dict, capsys: pytest.CaptureFixture[str],
                                                         argv: list[str], expected: list[str]) -> None:
    from ftlab.cli import main

    assert main([a.format(run=ner_run["run_id"]) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(part in err for part in expected), err


def test_evaluate_prints_the_per_type_report(ner_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.cli import main

    assert main(["evaluate", ner_run["run_id"]]) == 0
    out = capsys.readouterr().out
    assert "person" in out and "micro avg" in out and "micro_f1" in out


def test_an_entity_is_explained_by_integrated_gradients(ner_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Over the words of a test sentence in which the run finds an entity: one score per word, completeness
    (the scores add up to the entity's tag probability minus the baseline's) within the convergence delta."""
    from ftlab.cli import main
    from ftlab.explain.entity import explain_entity
    from ftlab.explain.words import split_words

    table, _ = ftlab.predictions(ner_run["run_id"], "test")
    texts = [text for text, found in zip(table["text"], table["predicted_entities"]) if len(found)]
    assert texts, "the tiny run finds no entity in 48 test sentences"
    explanation = explain_entity(ner_run["run_id"], texts[0], ig_steps=20)
    assert explanation.words == list(split_words(texts[0]).words)
    assert len(explanation.attributions) == len(explanation.words) and explanation.delta < 0.05
    entity = explanation.entity
    assert texts[0][entity["start"]:entity["end"]] == entity["text"] and entity == explanation.entities[0]

    assert main(["explain", ner_run["run_id"], "--text", texts[0], "--ig-steps", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["attributions"] == pytest.approx(explanation.attributions, abs=1e-6)
    assert main(["explain", ner_run["run_id"], "--text", texts[0], "--entity", "99"]) == 2
    err = capsys.readouterr().err
    assert "No entity 99" in err and entity["text"] in err and "--entity 0" in err
