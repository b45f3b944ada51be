"""Before vs after a mitigation: two real adult_text runs compared on accuracy and disparity by sex, with CIs,
in the library and on the Compare page."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import open_page

from ftlab.errors import UserError
from ftlab.slices import fairness_comparison, sensitive_columns, slice_report, tradeoff_figure


def test_sensitive_columns_are_the_few_valued_metadata_every_run_has(adult_runs: dict, trained_run: dict) -> None:
    ids = [adult_runs["plain"], adult_runs["dp"]]
    assert {"sex", "race"} <= set(sensitive_columns(ids))
    assert "age" not in sensitive_columns(ids)  # dozens of values: not one group each
    assert sensitive_columns([adult_runs["plain"], trained_run["run_id"]]) == []  # rotten_tomatoes has no sex


def test_fairness_comparison_rows_match_each_runs_slice_report(adult_runs: dict) -> None:
    table = fairness_comparison([adult_runs["plain"], adult_runs["dp"]], "sex", n_boot=200)
    assert list(table["run_id"]) == [adult_runs["plain"], adult_runs["dp"]]
    assert list(table["mitigation"]) == ["none", "dp-penalty"]
    assert pd.isna(table["penalty_weight"].iloc[0]) and table["penalty_weight"].iloc[1] == 0.35  # dp's default
    assert list(table["rows"]) == [800, 800]
    for row in table.itertuples(index=False):
        report = slice_report(row.run_id, by="sex", n_boot=200)
        assert row.accuracy == pytest.approx(report.overall.at["accuracy", "value"])
        assert row.demographic_parity_difference == pytest.approx(
            report.fairness.at["demographic_parity_difference", "value"])
        for name in ("accuracy", "demographic_parity_difference", "equalized_odds_difference"):
            low, high = getattr(row, f"{name}_low"), getattr(row, f"{name}_high")
            assert low <= high
    fig = tradeoff_figure(table)
    assert len(fig.data) == 4  # two runs x two disparities
    assert {trace.name for trace in fig.data} == set(table["run_id"])


def test_an_unknown_sensitive_column_is_a_clear_error(adult_runs: dict) -> None:
    with pytest.raises(UserError, match="sexx"):
        fairness_comparison([adult_runs["plain"]], "sexx", n_boot=50)


def test_compare_page_shows_accuracy_and_disparity_with_intervals(adult_runs: dict) -> None:
    at = open_page("compare", runs=f"{adult_runs['plain']},{adult_runs['dp']}")
    assert not at.exception, [e.value for e in at.exception]
    next(t for t in at.toggle if t.label.startswith("Compare accuracy and disparity by")).set_value(True).run(
        timeout=300)
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    shown = at.dataframe[-1].value
    assert list(shown["run_id"]) == [adult_runs["plain"], adult_runs["dp"]]
    assert shown["demographic-parity difference [95% CI]"].str.match(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$").all()
    assert len(at.get("plotly_chart")) >= 2  # the curves and the trade-off
