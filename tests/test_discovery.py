"""Worst-slice discovery on synthetic predictions tables with a planted bad slice (or none)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, fisher_exact
from sklearn.datasets import make_blobs

from fixtures import (BASE_ERROR, BLOBS, COLOURS, PLANTED_BLOB, PLANTED_BLOB_ERROR, PLANTED_PAIR, PLANTED_PAIR_ERROR,
                      PLANTED_WORD, PLANTED_WORD_ERROR, PLANTED_WORD_SHARE, SIZES, SLICE_ROWS, SLICE_VOCAB)
from ftlab.errors import UserError
from ftlab.slices.discovery import discover


def synthetic_table(seed: int, *, rows: int = SLICE_ROWS, word_error: float = BASE_ERROR,
                    pair_error: float = BASE_ERROR, error_rate: np.ndarray | None = None) -> pd.DataFrame:
    """A predictions table of random texts and metadata whose errors are planted: `word_error` in texts with the
    planted word, `pair_error` for colour=red & size=small, BASE_ERROR elsewhere (or `error_rate` per row)."""
    rng = np.random.default_rng(seed)
    has_word = rng.random(rows) < PLANTED_WORD_SHARE
    texts = []
    for planted in has_word:
        words = list(rng.choice(SLICE_VOCAB, rng.integers(6, 14)))
        if planted:
            words.insert(int(rng.integers(len(words) + 1)), PLANTED_WORD)
        texts.append(" ".join(words))
    colour, size = rng.choice(COLOURS, rows), rng.choice(SIZES, rows)
    in_pair = (colour == PLANTED_PAIR[0]) & (size == PLANTED_PAIR[1])
    if error_rate is None:
        error_rate = np.where(has_word, word_error, np.where(in_pair, pair_error, BASE_ERROR))
    wrong = rng.random(rows) < error_rate
    gold = rng.choice(["neg", "pos"], rows)
    predicted = np.where(wrong, np.where(gold == "pos", "neg", "pos"), gold)
    confidence = rng.uniform(0.5, 1.0, rows)
    prob_pos = np.where(predicted == "pos", confidence, 1 - confidence)
    return pd.DataFrame({"example_id": np.arange(rows), "text": texts, "gold": gold, "predicted": predicted,
                         "prob_neg": 1 - prob_pos, "prob_pos": prob_pos, "confidence": confidence,
                         "correct": gold == predicted, "colour": colour, "size": size,
                         "age": rng.integers(18, 80, rows)})


def test_a_planted_keyword_is_found_first_and_its_rows_are_exactly_the_texts_with_it() -> None:
    table = synthetic_table(1, word_error=PLANTED_WORD_ERROR)
    found = discover(table)
    top = found.slices.iloc[0]
    assert found.slices.index[0] == f"keyword:{PLANTED_WORD}" and top["significant"]
    assert top["error_rate"] == pytest.approx(PLANTED_WORD_ERROR, abs=0.06)
    assert top["lift"] > 3
    with_word = table[table["text"].str.split().apply(lambda words: PLANTED_WORD in words)]
    assert found.examples(f"keyword:{PLANTED_WORD}")["example_id"].tolist() == with_word["example_id"].tolist()
    assert "keyword:the" not in found.slices.index and "ngram:of the" not in found.slices.index  # stop words alone
    assert found.mask(f"keyword:{PLANTED_WORD}").sum() == len(with_word)


def test_a_planted_pair_of_metadata_values_is_found_first_though_each_value_alone_is_only_mildly_worse() -> None:
    table = synthetic_table(2, pair_error=PLANTED_PAIR_ERROR)
    found = discover(table)
    pair_id = f"metadata_pair:colour={PLANTED_PAIR[0]}&size={PLANTED_PAIR[1]}"
    assert found.slices.index[0] == pair_id
    colour_alone = found.slices.loc[f"metadata:colour={PLANTED_PAIR[0]}"]
    assert found.slices.loc[pair_id, "lift"] > 2 * colour_alone["lift"]
    assert found.slices.loc[pair_id, "explained_by"] == ""
    inside = table[(table["colour"] == PLANTED_PAIR[0]) & (table["size"] == PLANTED_PAIR[1])]
    assert found.examples(pair_id)["example_id"].tolist() == inside["example_id"].tolist()
    # The numeric column is cut into quantile bins, named as the data reads.
    age_bins = found.slices[found.slices.index.str.startswith("metadata:age=")]
    assert len(age_bins) == 5 and age_bins["size"].sum() == len(table)
    assert found.slices.loc[age_bins.index, "description"].str.match(r"age = \[\d+, \d+[)\]]").all()


def test_a_table_without_any_effect_has_no_significant_slice_because_bh_corrects_for_the_many_tests() -> None:
    table = synthetic_table(3)
    vectors = np.random.default_rng(3).normal(size=(len(table), 32))
    found = discover(table, embeddings=vectors)
    assert len(found.slices) > 100 and set(found.slices["kind"]) == {"keyword", "ngram", "metadata", "metadata_pair",
                                                                     "cluster"}
    assert found.significant.empty
    # Some raw p-values are under alpha by chance: only the Benjamini–Hochberg step keeps them out.
    assert (found.slices["p_value"] < 0.05).any()
    np.testing.assert_allclose(found.slices["q_value"], false_discovery_control(found.slices["p_value"], method="bh"))


def test_p_values_are_one_sided_fisher_exact_tests_of_the_slice_against_the_rest() -> None:
    found = discover(synthetic_table(1, word_error=PLANTED_WORD_ERROR))
    for slice_id in [found.slices.index[0], found.slices.index[40], found.slices.index[-1]]:
        row = found.slices.loc[slice_id]
        wrong_total = int((~found.table["correct"]).sum())
        rest = len(found.table) - row["size"]
        expected = fisher_exact([[row["errors"], row["size"] - row["errors"]],
                                 [wrong_total - row["errors"], rest - (wrong_total - row["errors"])]],
                                alternative="greater").pvalue
        assert row["p_value"] == pytest.approx(expected, rel=1e-6, abs=1e-300)


def test_a_cluster_of_errors_in_the_embeddings_is_found() -> None:
    vectors, blob = make_blobs(n_samples=SLICE_ROWS, centers=BLOBS, n_features=32, cluster_std=1.5, random_state=0)
    table = synthetic_table(4, error_rate=np.where(blob == PLANTED_BLOB, PLANTED_BLOB_ERROR, BASE_ERROR))
    found = discover(table, embeddings=vectors)
    top_id = found.slices.index[0]
    assert top_id.startswith("cluster:") and found.slices.loc[top_id, "description"].startswith("embedding cluster")
    assert (blob[found.positions(top_id)] == PLANTED_BLOB).mean() > 0.9
    clusters = found.significant[found.significant["kind"] == "cluster"]
    covered = np.unique(np.concatenate([found.positions(s) for s in clusters.index]))
    assert np.isin(np.flatnonzero(blob == PLANTED_BLOB), covered).mean() > 0.9


def test_ranking_by_excess_errors_puts_the_large_parent_slice_first() -> None:
    found = discover(synthetic_table(1, word_error=PLANTED_WORD_ERROR), rank_by="excess_errors")
    significant = found.significant
    assert significant.index[0] == f"keyword:{PLANTED_WORD}"
    leading = significant[significant["explained_by"] == ""]
    assert leading["excess_errors"].is_monotonic_decreasing


def test_five_thousand_rows_with_embeddings_take_seconds() -> None:
    table = synthetic_table(5, rows=5000, word_error=PLANTED_WORD_ERROR)
    vectors = np.random.default_rng(5).normal(size=(5000, 384)).astype(np.float32)
    discover(table.head(100), min_support=10)  # imports sklearn and scipy outside the timing
    start = time.perf_counter()
    found = discover(table, embeddings=vectors)
    assert time.perf_counter() - start < 30  # about 1 s on 2 cores; a loose bound that still catches a slow rewrite
    assert found.slices.index[0] == f"keyword:{PLANTED_WORD}"
    # Phrases with the planted word are bad too, and small ones look worse by chance: they rank after it, explained.
    significant = found.significant
    phrases = significant[significant.index.str.contains(PLANTED_WORD) & (significant["kind"] == "ngram")]
    assert len(phrases) > 5 and (phrases["explained_by"] == f"keyword:{PLANTED_WORD}").all()
    assert phrases["lift"].max() > significant.loc[f"keyword:{PLANTED_WORD}", "lift"]


@pytest.mark.parametrize("change, kwargs, message", [
    (lambda t: t.drop(columns="correct"), {}, "needs the column\\(s\\) correct"),
    (lambda t: t.head(30), {}, "at least 40 rows \\(min_support=20"),
    (lambda t: t, {"min_support": 0}, "min_support must be a whole number of at least 1"),
    (lambda t: t, {"alpha": 1.5}, "alpha must be a number between 0 and 1"),
    (lambda t: t, {"columns": ["sexx"]}, "Unknown column 'sexx': the table's metadata columns are colour, size, age"),
    (lambda t: t, {"embeddings": np.zeros((10, 4))}, "one row per table row: the table has 2000 rows"),
    (lambda t: t, {"rank_by": "size"}, "rank_by must be 'lift' or 'excess_errors'"),
])
def test_bad_input_is_a_user_error_that_names_the_problem(change, kwargs, message) -> None:
    with pytest.raises(UserError, match=message):
        discover(change(synthetic_table(6)), **kwargs)


def test_an_unknown_slice_id_is_a_user_error_that_shows_real_ids() -> None:
    found = discover(synthetic_table(1, word_error=PLANTED_WORD_ERROR))
    with pytest.raises(UserError, match=f"Unknown slice 'keyword:zebraa'.*'keyword:{PLANTED_WORD}'"):
        found.examples("keyword:zebraa")
