"""ftlab.slices and ftlab.analysis.scored_table: slice definitions, the slice report, its intervals, bad input."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import fixtures as fx
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ftlab.analysis import scored_table
from ftlab.errors import UserError
from ftlab.slices import (KEYWORD_GROUPS_FILE, NO_KEYWORD, SliceReport, keyword_groups, load_keyword_groups,
                          sensitive_features, slice_report)
from ftlab.slices._bootstrap import RATE_METRICS, seeds

POS, NEG = ">50K", "<=50K"


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(fx.SLICE_TABLE_CSV))


def sklearn_metrics(gold: pd.Series, pred: pd.Series, positive: str = POS) -> dict[str, float]:
    (tn, fp), (fn, tp) = confusion_matrix(gold == positive, pred == positive, labels=[False, True])
    return {
        "accuracy": accuracy_score(gold, pred),
        "macro_f1": f1_score(gold, pred, average="macro", zero_division=0),
        "selection_rate": float(np.mean(pred == positive)),
        "false_positive_rate": fp / (fp + tn) if fp + tn else math.nan,
        "false_negative_rate": fn / (fn + tp) if fn + tp else math.nan,
    }


# -- slice definitions ------------------------------------------------------------------------------------------

def test_intersection_labels_every_row_with_both_groups_in_order(table: pd.DataFrame) -> None:
    slices = sensitive_features(table, ["sex", "race"])
    assert slices.name == "sex & race"
    assert list(slices.cat.categories) == ["Female & Black", "Female & White", "Male & Black", "Male & White"]
    assert slices.iloc[0] == "Female & White" and slices.iloc[9] == "Male & Black"
    assert slices.value_counts().to_dict() == {"Female & White": 5, "Male & White": 5, "Female & Black": 3,
                                               "Male & Black": 3}


def test_numeric_metadata_with_many_values_is_cut_into_readable_quantile_bins(table: pd.DataFrame) -> None:
    slices = sensitive_features(table, "age")
    assert list(slices.cat.categories) == ["17–25", "28–38", "41–52", "58–90"]
    assert slices.value_counts().tolist() == [4, 4, 4, 4]
    assert slices.iloc[0] == "41–52"  # age 45


def test_keyword_groups_from_the_shipped_yaml_match_whole_words_case_insensitively(table: pd.DataFrame) -> None:
    slices = sensitive_features(table, ["keywords"])
    assert slices.tolist() == fx.SLICE_TABLE_KEYWORDS
    categories = list(slices.cat.categories)
    assert categories[:4] == ["female_terms", "male_terms", "religion_terms", "nationality_terms"]
    assert categories[-1] == NO_KEYWORD
    groups = load_keyword_groups()
    assert {"she", "wife", "mother"} <= set(groups["female_terms"]) and {"he", "husband"} <= set(groups["male_terms"])


def test_keyword_phrases_span_any_whitespace_and_a_mapping_works_like_a_file() -> None:
    frame = pd.DataFrame({"text": ["people of  color", "colorful people", "Of Color here", "nothing"]})
    slices = keyword_groups(frame, {"phrase": ["of color"]})
    assert slices.tolist() == ["phrase", NO_KEYWORD, "phrase", NO_KEYWORD]


def test_confidence_and_length_buckets(table: pd.DataFrame) -> None:
    confidence = sensitive_features(table, ["confidence"])
    assert confidence.value_counts(sort=False).to_dict() == fx.SLICE_TABLE_CONFIDENCE
    assert confidence.iloc[7] == "[0.9, 1.0]"  # confidence 1.0 is in the last, closed bucket
    unsure = sensitive_features(table.assign(confidence=np.linspace(0.52, 0.58, len(table))), ["confidence"])
    # an undertrained model's confidences, all in [0.5, 0.6): quantile bins instead
    assert list(unsure.cat.categories) == ["0.52–0.532", "0.536–0.548", "0.552–0.564", "0.568–0.58"]
    length = sensitive_features(table, ["length"])
    words = table["text"].str.split().str.len()
    assert all(label.endswith(("words", "word")) for label in length.cat.categories)
    low_bin = length.cat.categories[0]
    assert words[length == low_bin].max() < words[length != low_bin].min()  # ordered by length
    assert len(length.cat.categories) >= 2 and length.notna().all()


# -- the report's numbers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("by", [["sex"], ["race"], ["sex", "race"], ["age"], ["keywords"], ["confidence"],
                                ["length"]])
def test_per_slice_metrics_equal_sklearn_on_the_same_masks(table: pd.DataFrame, by: list[str]) -> None:
    slices = sensitive_features(table, by)
    report = slice_report(table, by=by, n_boot=20)
    assert list(report.by_group.index) == [c for c in slices.cat.categories if (slices == c).any()]
    for name, row in report.by_group.iterrows():
        mask = slices == name
        assert row["count"] == mask.sum()
        expected = sklearn_metrics(table["gold"][mask], table["predicted"][mask])
        assert {m: row[m] for m in RATE_METRICS} == pytest.approx(expected, nan_ok=True), name
    overall = report.overall["value"]
    assert overall["count"] == len(table)
    assert {m: overall[m] for m in RATE_METRICS} == pytest.approx(sklearn_metrics(table["gold"], table["predicted"]))


def test_difference_ratio_and_fairness_match_hand_computation(table: pd.DataFrame) -> None:
    report = slice_report(table, by=["sex"], n_boot=200)
    female, male = report.by_group.loc["Female"], report.by_group.loc["Male"]
    assert (female["accuracy"], female["selection_rate"], female["false_positive_rate"],
            female["false_negative_rate"]) == pytest.approx((6 / 8, 3 / 8, 1 / 5, 1 / 3))
    assert (male["accuracy"], male["selection_rate"], male["false_positive_rate"],
            male["false_negative_rate"]) == pytest.approx((4 / 8, 5 / 8, 2 / 3, 2 / 5))
    assert report.positive == POS and report.metric == "accuracy"
    assert report.difference() == pytest.approx(0.25)  # 6/8 - 4/8
    assert report.difference(method="to_overall") == pytest.approx(0.125)  # |4/8 - 10/16|
    assert report.ratio() == pytest.approx((4 / 8) / (6 / 8))
    assert report.ratio(method="to_overall") == pytest.approx((4 / 8) / (10 / 16))  # 0.8 < (10/16) / (6/8)
    assert report.difference("false_positive_rate") == pytest.approx(2 / 3 - 1 / 5)
    assert report.ratio("false_negative_rate") == pytest.approx((1 / 3) / (2 / 5))
    fairness = report.fairness["value"]
    assert fairness["demographic_parity_difference"] == pytest.approx(5 / 8 - 3 / 8)
    # max(TPR gap |2/3 - 3/5|, FPR gap |1/5 - 2/3|)
    assert fairness["equalized_odds_difference"] == pytest.approx(2 / 3 - 1 / 5)
    for metric in RATE_METRICS:
        low, high = report.difference_ci(metric)
        assert low <= high


def test_counted_bootstrap_gives_metricframes_own_intervals(table: pd.DataFrame) -> None:
    """The default bootstrap counts MetricFrame's resamples; letting MetricFrame re-score them gives the same."""
    slices = sensitive_features(table, ["sex", "race"])
    kwargs = dict(y_true=table["gold"], y_pred=table["predicted"], sensitive_features=slices, n_boot=40,
                  random_state=7)
    counted = SliceReport(**kwargs)
    refit = SliceReport(**kwargs, bootstrap="metricframe")
    pd.testing.assert_frame_equal(counted.by_group, refit.by_group, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(counted.overall, refit.overall, check_exact=False, rtol=1e-12)
    for metric in RATE_METRICS:
        for method in ("between_groups", "to_overall"):
            assert counted.difference_ci(metric, method) == pytest.approx(refit.difference_ci(metric, method),
                                                                         nan_ok=True)
            assert counted.ratio_ci(metric, method) == pytest.approx(refit.ratio_ci(metric, method), nan_ok=True)
    assert counted.by_group["accuracy_low"].notna().all()


def test_fairness_intervals_are_fairlearns_metrics_on_resampled_rows(table: pd.DataFrame) -> None:
    n_boot = 30
    report = slice_report(table, by=["race"], n_boot=n_boot, random_state=3)
    dp, eo = [], []
    for seed in seeds(n_boot, 3):
        sample = table.sample(frac=1, replace=True, random_state=seed)
        gold, pred = (sample["gold"] == POS).astype(int), (sample["predicted"] == POS).astype(int)
        dp.append(demographic_parity_difference(gold, pred, sensitive_features=sample["race"]))
        eo.append(equalized_odds_difference(gold, pred, sensitive_features=sample["race"]))
    fairness = report.fairness
    assert fairness.loc["demographic_parity_difference", ["low", "high"]].tolist() == pytest.approx(
        np.quantile(dp, [0.025, 0.975]))
    assert fairness.loc["equalized_odds_difference", ["low", "high"]].tolist() == pytest.approx(
        np.quantile(eo, [0.025, 0.975]))


def test_intervals_contain_the_estimate_and_narrow_with_four_times_the_rows(table: pd.DataFrame) -> None:
    small = slice_report(table, by=["sex"])
    large = slice_report(pd.concat([table] * 4, ignore_index=True), by=["sex"])
    for report in (small, large):
        rows = report.by_group
        for metric in RATE_METRICS:
            assert (rows[f"{metric}_low"] <= rows[metric]).all() and (rows[metric] <= rows[f"{metric}_high"]).all()
        overall = report.overall.loc[list(RATE_METRICS)]
        assert ((overall["low"] <= overall["value"]) & (overall["value"] <= overall["high"])).all()
    for metric in ("accuracy", "selection_rate", "macro_f1"):
        narrow = large.by_group[f"{metric}_high"] - large.by_group[f"{metric}_low"]
        wide = small.by_group[f"{metric}_high"] - small.by_group[f"{metric}_low"]
        assert (narrow < wide).all(), metric
    assert np.diff(large.overall.loc["accuracy", ["low", "high"]]) < np.diff(small.overall.loc["accuracy",
                                                                                              ["low", "high"]])


def test_small_slices_are_flagged_not_dropped(table: pd.DataFrame) -> None:
    report = slice_report(table, by=["race"], min_size=8, n_boot=10)
    assert report.by_group["small"].to_dict() == {"Black": True, "White": False}
    assert slice_report(table, by=["sex", "race"], n_boot=10).by_group["small"].all()  # default min_size 30


def test_to_frame_and_to_dict(table: pd.DataFrame) -> None:
    report = slice_report(table, by=["keywords"], n_boot=50)
    frame = report.to_frame()
    assert frame.columns[:5].tolist() == ["slice", "count", "accuracy", "accuracy_low", "accuracy_high"]
    assert frame.columns[-1] == "small"
    assert frame["slice"].iloc[0] == "(all)" and frame["count"].iloc[0] == len(table)
    assert frame["count"].iloc[1:].sum() == len(table)
    data = json.loads(json.dumps(report.to_dict()))  # strict JSON: no NaN
    female = next(s for s in data["slices"] if s["slice"] == "female_terms")
    assert female["false_positive_rate"]["value"] is None  # both female_terms rows earn >50K: no negatives
    assert data["positive"] == POS and data["by"] == "keywords"
    assert data["differences"]["accuracy"]["between_groups"]["value"] == pytest.approx(report.difference())
    assert set(data["fairness"]) == {"demographic_parity_difference", "equalized_odds_difference"}


def test_report_of_5000_rows_with_1000_resamples_is_quick() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    gold = rng.choice([NEG, POS], n, p=[0.75, 0.25])
    pred = np.where(rng.random(n) < 0.8, gold, np.where(gold == POS, NEG, POS))
    frame = pd.DataFrame({"text": "x", "gold": gold, "predicted": pred, "sex": rng.choice(["Female", "Male"], n),
                          "race": rng.choice(["White", "Black", "Asian-Pac-Islander", "Other"], n,
                                             p=[0.8, 0.1, 0.07, 0.03])})
    start = time.perf_counter()
    report = slice_report(frame, by=["sex", "race"], n_boot=1000)
    elapsed = time.perf_counter() - start
    print(f"slice report, 5000 rows, 8 slices, n_boot=1000: {elapsed:.2f} s")
    assert len(report.by_group) == 8 and elapsed < 10


# -- bad input --------------------------------------------------------------------------------------------------

BadCase = Callable[[pd.DataFrame, Path], object]
BAD_INPUT: dict[str, tuple[BadCase, list[str]]] = {
    "unknown-column": (lambda t, _: slice_report(t, by=["sexx"]),
                       ["Unknown column 'sexx'", "sex, race, age", "keywords, length, confidence", "Example"]),
    "one-value": (lambda t, _: slice_report(t.assign(country="US"), by=["country"]),
                  ["'country' has one value 'US': nothing to compare", "two or more groups"]),
    "all-nan": (lambda t, _: slice_report(t.assign(income=np.nan), by=["income"]),
                ["'income'", "every value is missing", "another column"]),
    "empty-keyword-group": (lambda t, tmp: slice_report(t, by=["keywords"], keywords=_write(
        tmp / "groups.yaml", fx.KEYWORDS_EMPTY_GROUP_YAML)), ["'male_terms'", "groups.yaml", "is empty"]),
    "missing-keyword-file": (lambda t, tmp: slice_report(t, by=["keywords"], keywords=tmp / "nope.yaml"),
                             ["No keyword groups file", "nope.yaml", str(KEYWORD_GROUPS_FILE)]),
    "no-keyword-matches": (lambda t, _: slice_report(t, by=["keywords"], keywords={"colours": ["zzz"]}),
                           ["No text mentions any keyword group", "colours"]),
    "no-rows": (lambda t, _: slice_report(t.iloc[:0], by=["sex"]), ["no rows", "nothing to slice"]),
    "empty-spec": (lambda t, _: slice_report(t, by=[]), ["Nothing to slice by", "Example"]),
    "unknown-positive": (lambda t, _: slice_report(t, by=["sex"], positive="rich"),
                         ["positive label 'rich'", "<=50K", ">50K"]),
    "unknown-metric": (lambda t, _: slice_report(t, by=["sex"], metric="f1"), ["Unknown metric 'f1'", "macro_f1"]),
    "negative-n-boot": (lambda t, _: slice_report(t, by=["sex"], n_boot=-1), ["n_boot", "n_boot=1000"]),
    "compare-unknown-metric": (lambda t, _: slice_report(t, by=["sex"], n_boot=0).difference("count"),
                               ["Unknown metric 'count'", "accuracy"]),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_a_user_error_naming_problem_and_fix(case: str, table: pd.DataFrame, tmp_path: Path) -> None:
    call, expected = BAD_INPUT[case]
    with pytest.raises(UserError) as error:
        call(table, tmp_path)
    for words in expected:
        assert words.lower() in str(error.value).lower(), (words, str(error.value))


def test_slice_report_of_a_run_without_a_model_says_so(fresh_home: Path) -> None:
    folder = fresh_home / "runs" / "half-run"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"run_id": "half-run", "status": "failed", "labels": ["a", "b"]}))
    with pytest.raises(UserError, match="Run 'half-run' has no trained model yet"):
        slice_report("half-run", by=["length"])
    with pytest.raises(UserError, match="Unknown run 'no-such-run'"):
        slice_report("no-such-run", by=["length"])


# -- a trained run ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("by", [["length"], ["confidence"]])
def test_slice_report_of_the_trained_run(trained_run: dict, by: list[str]) -> None:
    from ftlab.evaluate import predictions
    from ftlab.runs import read_state

    run_id = trained_run["run_id"]
    table, metrics = predictions(run_id)
    report = slice_report(run_id, by=by, n_boot=200)
    assert report.labels == read_state(run_id).labels == ["fresh", "rotten"]
    assert report.positive == "rotten"
    assert report.overall.loc["accuracy", "value"] == pytest.approx(metrics["accuracy"])
    assert report.overall.loc["macro_f1", "value"] == pytest.approx(metrics["macro_f1"])
    assert report.by_group["count"].sum() == len(table) and len(report.by_group) >= 2


def test_scored_table_scores_a_labelled_file_and_keeps_its_columns(trained_run: dict, tmp_path: Path) -> None:
    run_id = trained_run["run_id"]
    path = _write(tmp_path / "reviews.csv", fx.RT_SCORED_CSV)
    table = scored_table(run_id, path)
    source = pd.read_csv(path)
    assert table.columns.tolist() == ["example_id", "text", "gold", "predicted", "prob_fresh", "prob_rotten",
                                      "confidence", "correct", "source", "confidence_original"]
    assert table["gold"].tolist() == source["label"].tolist() and table["text"].tolist() == source["text"].tolist()
    assert table["confidence_original"].tolist() == source["confidence"].tolist()  # the file's own, renamed
    assert table["confidence"].between(0.5, 1).all() and set(table["predicted"]) <= {"fresh", "rotten"}
    assert (table["correct"] == (table["gold"] == table["predicted"])).all()
    report = slice_report(table, by=["source"], n_boot=50)
    assert report.by_group["count"].to_dict() == {"blog": 3, "paper": 2}
    with pytest.raises(UserError, match=r"not among the model's labels \['fresh', 'rotten'\]"):
        scored_table(run_id, _write(tmp_path / "posneg.csv", fx.RT_UNKNOWN_LABELS_CSV))
