"""Error analysis of a predictions table: confusion matrix, confident errors, calibration, embeddings and their map."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from ftlab.analysis.calibration import (calibration_by_slice, expected_calibration_error, reliability,
                                        reliability_figure)
from ftlab.analysis.errors import (class_report, confident_errors, confusion, confusion_examples, confusion_figure)
from ftlab.errors import UserError

LABELS = ["cat", "dog", "fox"]


def three_class_table(seed: int = 0, rows: int = 600) -> pd.DataFrame:
    """Predictions of a 3-class model that confuses dog with fox more than anything else."""
    rng = np.random.default_rng(seed)
    gold = rng.choice(LABELS, rows)
    swap = {"cat": "dog", "dog": "fox", "fox": "cat"}
    predicted = np.where(rng.random(rows) < np.where(gold == "dog", 0.4, 0.15), [swap[g] for g in gold], gold)
    probs = rng.dirichlet(np.ones(3), rows)
    table = pd.DataFrame({"example_id": np.arange(rows), "text": [f"text {i}" for i in range(rows)], "gold": gold,
                          "predicted": predicted})
    for i, label in enumerate(LABELS):
        table[f"prob_{label}"] = probs[:, i]
    table["confidence"] = rng.uniform(0.34, 1.0, rows)
    table["correct"] = table["gold"] == table["predicted"]
    return table


def calibration_table(seed: int, rows: int, *, overconfidence: float = 0.0) -> pd.DataFrame:
    """Confidence uniform on [0.5, 1]; each prediction is right with probability confidence − overconfidence."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, rows)
    correct = rng.random(rows) < confidence - overconfidence
    return pd.DataFrame({"gold": "a", "predicted": np.where(correct, "a", "b"), "confidence": confidence,
                         "correct": correct})


# -- confusion matrix, confident errors, per-class report -------------------------------------------------------

def test_the_confusion_matrix_is_sklearns_and_a_cell_holds_exactly_its_rows() -> None:
    table = three_class_table()
    matrix = confusion(table)
    np.testing.assert_array_equal(matrix.to_numpy(), confusion_matrix(table["gold"], table["predicted"], labels=LABELS))
    assert list(matrix.index) == LABELS and matrix.index.name == "gold" and matrix.columns.name == "predicted"
    cell = confusion_examples(table, gold="dog", predicted="fox")
    expected = table[(table["gold"] == "dog") & (table["predicted"] == "fox")]
    assert cell["example_id"].tolist() == expected["example_id"].tolist() and len(cell) == matrix.loc["dog", "fox"]
    np.testing.assert_allclose(confusion(table, normalize="true").sum(axis=1), 1.0)
    with pytest.raises(UserError, match="Unknown predicted label 'wolf': the table's labels are cat, dog, fox"):
        confusion_examples(table, gold="dog", predicted="wolf")


def test_the_confusion_figure_is_a_heatmap_labelled_with_the_counts() -> None:
    table = three_class_table()
    figure = confusion_figure(table)
    [heatmap] = figure.data
    assert heatmap.type == "heatmap" and list(heatmap.x) == LABELS
    assert heatmap.text[1][2] == str(confusion(table).loc["dog", "fox"])


def test_confident_errors_are_wrong_predictions_most_confident_first() -> None:
    table = three_class_table()
    top = confident_errors(table, n=10)
    assert len(top) == 10 and not top["correct"].any()
    assert top["confidence"].is_monotonic_decreasing
    assert top["confidence"].iloc[-1] >= table.loc[~table["correct"], "confidence"].nlargest(10).min()
    with pytest.raises(UserError, match="n must be a positive whole number"):
        confident_errors(table, n=0)


def test_the_per_class_report_is_sklearns() -> None:
    table = three_class_table()
    report = class_report(table)
    precision, recall, f1, support = precision_recall_fscore_support(table["gold"], table["predicted"], labels=LABELS)
    np.testing.assert_allclose(report.loc[LABELS, "precision"], precision)
    np.testing.assert_allclose(report.loc[LABELS, "recall"], recall)
    np.testing.assert_allclose(report.loc[LABELS, "f1-score"], f1)
    assert report.loc[LABELS, "support"].tolist() == support.tolist()
    assert report.loc["accuracy", "f1-score"] == pytest.approx(table["correct"].mean())
    assert list(report.index[-3:]) == ["accuracy", "macro avg", "weighted avg"]


def test_a_table_without_the_needed_columns_is_a_user_error() -> None:
    table = three_class_table().drop(columns="correct")
    with pytest.raises(UserError, match="needs the column\\(s\\) correct, which the table lacks"):
        confident_errors(table)
    with pytest.raises(UserError, match="Calibration needs the column\\(s\\) correct"):
        expected_calibration_error(table)


# -- calibration ------------------------------------------------------------------------------------------------

def test_a_calibrated_predictor_has_ece_near_zero_and_an_overconfident_one_a_large_ece() -> None:
    assert expected_calibration_error(calibration_table(0, 20_000)) < 0.02
    assert expected_calibration_error(calibration_table(1, 20_000, overconfidence=0.2)) == pytest.approx(0.2, abs=0.02)


def test_reliability_bins_are_equal_width_and_hold_every_row() -> None:
    table = calibration_table(2, 5000)
    table.loc[0, "confidence"] = 1.0  # the top edge belongs to the last bin
    bins = reliability(table, bins=10)
    assert len(bins) == 10 and bins["count"].sum() == len(table)
    np.testing.assert_allclose(bins["upper"] - bins["lower"], 0.1)
    assert (bins.loc[:4, "count"] == 0).all()  # confidence starts at 0.5
    filled = bins[bins["count"] > 0]
    assert ((filled["confidence"] >= filled["lower"]) & (filled["confidence"] <= filled["upper"])).all()
    ece = np.average((filled["accuracy"] - filled["confidence"]).abs(), weights=filled["count"])
    assert expected_calibration_error(table) == pytest.approx(ece)


def test_calibration_per_slice_finds_the_overconfident_slice() -> None:
    table = pd.concat([calibration_table(3, 4000).assign(group="calibrated"),
                       calibration_table(4, 4000, overconfidence=0.25).assign(group="overconfident")],
                      ignore_index=True)
    by_group = calibration_by_slice(table, "group")
    assert by_group.index[0] == "(overall)" and by_group.loc["(overall)", "count"] == 8000
    assert by_group.loc["calibrated", "ece"] < 0.03 < 0.2 < by_group.loc["overconfident", "ece"]
    same = calibration_by_slice(table, pd.Series(table["group"].to_numpy(), name="group"))
    pd.testing.assert_frame_equal(by_group, same)
    figure = reliability_figure(table, "group")
    assert [t.name.split(" (")[0] for t in figure.data] == ["calibrated", "overconfident", "perfect calibration"]
    assert [t.type for t in reliability_figure(table).data] == ["bar", "scatter"]
    with pytest.raises(UserError, match="Unknown column 'groop'"):
        calibration_by_slice(table, "groop")
    with pytest.raises(UserError, match="one label per table row"):
        calibration_by_slice(table, table["group"].head(10))


# -- embeddings of a trained run and their map ------------------------------------------------------------------

def test_embeddings_of_a_run_are_one_per_row_cached_and_mapped(trained_run: dict) -> None:
    from ftlab.analysis.embeddings import embed_texts, embedding_map, map_figure, run_embeddings
    from ftlab.evaluate import load_trained, predictions

    run_id = trained_run["run_id"]
    table, _ = predictions(run_id, "test")
    model, tokenizer, config, _, _ = load_trained(run_id)
    start = time.perf_counter()
    first = run_embeddings(run_id, "test", use_cache=False)
    computed = time.perf_counter() - start
    assert first.vectors.shape == (len(table), model.config.hidden_size) and not first.cached
    assert first.path.is_file() and first.path.parent.name == "analysis"
    assert first.table["example_id"].tolist() == table["example_id"].tolist()

    start = time.perf_counter()
    second = run_embeddings(run_id, "test")
    assert second.cached and time.perf_counter() - start < computed
    np.testing.assert_array_equal(second.vectors, first.vectors)
    # A different array in the cache file comes back as is: the second call reads the file, not the model.
    np.save(first.path, first.vectors + 1)
    np.testing.assert_array_equal(run_embeddings(run_id, "test").vectors, first.vectors + 1)
    np.save(first.path, first.vectors)

    # Padding is left out of the mean: a text embedded alone equals its row, embedded among longer texts.
    texts = table["text"].tolist()
    alone = embed_texts(model, tokenizer, texts[:1], max_length=config.max_length)
    np.testing.assert_allclose(alone[0], first.vectors[0], atol=1e-4)

    coords = embedding_map(first.vectors)
    assert coords.shape == (len(table), 2) and np.isfinite(coords).all()
    figure = map_figure(coords, table, color_by="correct")
    assert sum(len(trace.x) for trace in figure.data) == len(table)
    assert {trace.name for trace in figure.data} <= {"True", "False"}
    assert embedding_map(first.vectors[:20]).shape == (20, 2)  # PCA for a handful of rows
    with pytest.raises(UserError, match="Unknown colour column 'colour'"):
        map_figure(coords, table, color_by="colour")
