"""`ftlab slices` and `ftlab errors`, run as a user runs them (in-process `ftlab.cli.main`, real runs, real scores).

The rotten_tomatoes run (`trained_run`) has one metadata column, movie_name, with too many values to slice by, and
its undertrained model calls nearly everything "fresh"; the adult_text run (`adult_runs["plain"]`, an 800-row test
sample) has sex, race and age.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import fixtures as fx
from ftlab.config import TrainConfig
from ftlab.cli import main
from ftlab.cli_analysis import METRIC_CHOICES
from ftlab.evaluate import predictions

INTERVAL = re.compile(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]")
"""How the human output shows a value with its 95% interval: 0.842 [0.831, 0.853]."""


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors (a bad --metric choice) exit 2 from parse_args
        rc = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    rc, out, err = run_cli([*argv, "--json"], capsys)
    assert rc == 0, err[-3000:]
    # NaN or Infinity in the output would be invalid JSON for most readers: refuse them here too.
    return json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON output"))


def check_report(report: dict, rows: int) -> None:
    """Counts add up to the table, every interval holds its value, small slices are exactly those under min_size."""
    assert sum(s["count"] for s in report["slices"]) == report["overall"]["count"] == rows
    for cell in [report["overall"], *report["slices"]]:
        assert cell.get("small", False) == (cell["count"] < report["min_size"])
        for metric in METRIC_CHOICES:
            value, low, high = cell[metric]["value"], cell[metric]["low"], cell[metric]["high"]
            if value is not None and low is not None:
                assert low - 1e-9 <= value <= high + 1e-9, (cell.get("slice"), metric, cell[metric])
    for name, cell in report["fairness"].items():
        assert 0 <= cell["value"] <= 1, name


@pytest.fixture(scope="module")
def rt_run(trained_run: dict) -> tuple[str, int]:
    run_id = trained_run["run_id"]
    return run_id, len(predictions(run_id, "test")[0])


@pytest.fixture(scope="module")
def adult_run(adult_runs: dict[str, str]) -> tuple[str, int]:
    run_id = adult_runs["plain"]
    return run_id, len(predictions(run_id, "test")[0])  # scored by the fixture's run, cached in its folder


def test_the_metric_choices_are_the_reports_metrics() -> None:
    from ftlab.slices import METRICS

    assert METRIC_CHOICES == METRICS[1:]


@pytest.mark.parametrize("by", ["length", "confidence"])
def test_slices_of_the_rt_run_by_a_pseudo_column(by: str, rt_run: tuple[str, int],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run_id, rows = rt_run
    result = run_json(["slices", run_id, "--by", by, "--n-boot", "300"], capsys)
    assert (result["run_id"], result["split"], result["by"], result["examples"]) == (run_id, "test", by, rows)
    assert result["labels"] == ["fresh", "rotten"] and result["n_boot"] == 300
    assert len(result["slices"]) >= 2
    check_report(result, rows)

    rc, out, err = run_cli(["slices", run_id, "--by", by, "--metric", "false_negative_rate", "--n-boot", "300"], capsys)
    assert rc == 0, err
    assert f"run {run_id}, test split ({rows:,} examples)" in out and f"slices by {by}" in out
    assert len(INTERVAL.findall(out)) >= len(result["slices"]) + 1, out
    assert "false_negative_rate difference between groups" in out and "false_negative_rate ratio between groups" in out
    assert "demographic parity difference" in out and "equalised odds difference" in out  # a binary task
    for piece in result["slices"]:
        assert piece["slice"] in out


def test_slices_without_by_on_rt_say_why_movie_name_is_left_out(rt_run: tuple[str, int],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_id, rows = rt_run
    result = run_json(["slices", run_id, "--n-boot", "0"], capsys)
    assert result["by"] == ["length"] and list(result["skipped"]) == ["movie_name"]
    assert "values" in result["skipped"]["movie_name"] and "movie_name" in result["note"]
    [report] = result["reports"]
    check_report(report, rows)
    assert all(s["accuracy"]["low"] is None for s in report["slices"])  # --n-boot 0: no intervals

    rc, out, _ = run_cli(["slices", run_id, "--n-boot", "0"], capsys)
    assert rc == 0 and "note: no metadata column has 2-50 groups (movie_name:" in out and "--by keywords" in out


def test_errors_of_the_rt_run(rt_run: tuple[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.analysis import expected_calibration_error

    run_id, rows = rt_run
    table = predictions(run_id, "test")[0]
    result = run_json(["errors", run_id, "--top", "5"], capsys)
    matrix = result["confusion"]["matrix"]
    assert result["confusion"]["labels"] == ["fresh", "rotten"] and sum(map(sum, matrix)) == rows
    assert [sum(row) for row in matrix] == [int((table["gold"] == label).sum()) for label in ("fresh", "rotten")]
    assert result["accuracy"] == pytest.approx((matrix[0][0] + matrix[1][1]) / rows)
    assert result["ece"] == pytest.approx(expected_calibration_error(table))
    assert result["class_report"]["accuracy"]["precision"] is None  # NaN in sklearn's report, None in JSON
    assert result["class_report"]["fresh"]["support"] == sum(matrix[0])
    errors = result["confident_errors"]
    assert len(errors) == 5 and all(e["gold"] != e["predicted"] for e in errors)
    confidences = [e["confidence"] for e in errors]
    wrong = table[~table["correct"]]
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] == pytest.approx(wrong["confidence"].max())
    discovery = result["discovery"]
    assert discovery["tested"] > 0 and discovery["embeddings"] is False and len(result["worst_slices"]) <= 5
    for found in result["worst_slices"]:
        assert found["q_value"] <= discovery["alpha"] and found["error_rate"] > found["rest_error_rate"]

    rc, out, err = run_cli(["errors", run_id, "--top", "3"], capsys)
    assert rc == 0, err
    assert "confusion matrix (rows: gold, columns: predicted)" in out and "expected calibration error" in out
    assert "3 most confident errors" in out and "worst slices" in out and "precision  recall" in out
    quoted = re.findall(r'predicted \w+: "(.*)"$', out, flags=re.MULTILINE)
    assert len(quoted) == 3 and all(len(text) <= 80 for text in quoted)


def test_errors_of_a_scored_file_too_small_to_search_for_slices(rt_run: tuple[str, int], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_id, _ = rt_run
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(fx.CLI_REVIEWS_CSV)
    result = run_json(["errors", run_id, "--data", str(reviews), "--text-col", "review"], capsys)
    assert result["split"] is None and result["data"] == str(reviews) and result["examples"] == fx.CLI_REVIEWS_ROWS
    assert sum(map(sum, result["confusion"]["matrix"])) == fx.CLI_REVIEWS_ROWS
    assert result["discovery"]["tested"] == 0 and "at least 40" in result["discovery"]["note"]  # too few to search
    rc, out, _ = run_cli(["errors", run_id, "--data", str(reviews), "--text-col", "review"], capsys)
    assert rc == 0 and f"{reviews} ({fx.CLI_REVIEWS_ROWS} examples)" in out and "worst slices: none searched" in out


def test_errors_search_embedding_clusters_with_embeddings(rt_run: tuple[str, int],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.analysis import run_embeddings
    from ftlab.slices import discover

    run_id, _ = rt_run
    result = run_json(["errors", run_id, "--embeddings", "--top", "50"], capsys)
    assert result["discovery"]["embeddings"] is True
    found = discover(predictions(run_id, "test")[0], embeddings=run_embeddings(run_id, "test").vectors)
    assert result["discovery"]["tested"] == len(found.slices) and (found.slices["kind"] == "cluster").any()
    assert [s["slice_id"] for s in result["worst_slices"]] == list(found.significant.index[:50])


@pytest.mark.parametrize("by,groups", [("sex", {"Female", "Male"}),
                                       ("race", {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo",
                                                 "Other"})])
def test_slices_of_the_adult_run_by_a_sensitive_column(by: str, groups: set[str], adult_run: tuple[str, int],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_id, rows = adult_run
    table = predictions(run_id, "test")[0]
    result = run_json(["slices", run_id, "--by", by], capsys)
    assert {s["slice"] for s in result["slices"]} == set(table[by]) <= groups and result["positive"] == ">50K"
    assert {s["slice"]: s["count"] for s in result["slices"]} == table[by].value_counts().to_dict()
    check_report(result, rows)


def test_slices_of_the_adult_run_by_an_intersection(adult_run: tuple[str, int],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run_id, rows = adult_run
    result = run_json(["slices", run_id, "--by", "sex", "--by", "race", "--n-boot", "200"], capsys)
    assert result["by"] == "sex & race" and "Female & White" in {s["slice"] for s in result["slices"]}
    check_report(result, rows)
    assert any(s["small"] for s in result["slices"])  # some sex-and-race groups have fewer than 30 people


def test_plain_slices_of_the_adult_run_report_sex_race_and_age(adult_run: tuple[str, int],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run_id, rows = adult_run
    result = run_json(["slices", run_id, "--n-boot", "200"], capsys)
    assert result["by"] == ["sex", "race", "age"] and result["skipped"] == {"source_split": "the split a row came from"}
    assert [r["by"] for r in result["reports"]] == ["sex", "race", "age"] and result["note"] is None
    for report in result["reports"]:
        check_report(report, rows)

    rc, out, err = run_cli(["slices", run_id, "--n-boot", "200"], capsys)
    assert rc == 0, err
    assert "one report per metadata column with 2-50 groups: sex, race, age; skipped source_split" in out
    for by in ("sex", "race", "age"):
        assert f"slices by {by} — positive label '>50K'" in out
    assert INTERVAL.search(out) and "Female" in out and "White" in out


# -- bad input: one line, exit 2, no traceback ---------------------------------------------------------------------

RT = "{rt}"
BAD = [
    ("unknown-run", "slices nope --by length", ["Unknown run 'nope'", "ftlab runs"]),
    ("unknown-run-errors", "errors nope", ["Unknown run 'nope'"]),
    ("failed-run", "slices broken --by length", ["Run 'broken' has no trained model yet", "failed", "--resume"]),
    ("queued-run-errors", "errors waiting", ["Run 'waiting' has no trained model yet", "queued"]),
    ("unknown-column", f"slices {RT} --by sexx", ["Unknown column 'sexx'", "movie_name", "length"]),
    ("too-many-groups", f"slices {RT} --by movie_name", ["'movie_name'", "distinct values", "at most 50"]),
    ("one-value-column", f"slices {RT} --data {{in}}/reviews.csv --text-col review --by lang",
     ["Column 'lang' has one value 'en'", "venue"]),
    ("all-missing-column", f"slices {RT} --data {{in}}/reviews.csv --text-col review --by notes",
     ["Column 'notes' is empty", "every value is missing"]),
    ("empty-keyword-group", f"slices {RT} --by keywords --keywords {{in}}/groups.yaml",
     ["Keyword group 'male_terms'", "is empty"]),
    ("keywords-without-by-keywords", f"slices {RT} --by length --keywords {{in}}/groups.yaml",
     ["--keywords", "Add --by keywords"]),
    ("bad-metric", f"slices {RT} --metric recall", ["invalid choice: 'recall'", "false_positive_rate", "--help"]),
    ("missing-data-file", f"slices {RT} --data {{in}}/nope.csv", ["No file at", "nope.csv"]),
    ("wrong-text-col", f"errors {RT} --data {{in}}/reviews.csv --text-col body", ["no column 'body'", "review"]),
    ("text-col-without-data", f"errors {RT} --text-col review", ["--text-col", "add --data FILE"]),
    ("unknown-split", f"errors {RT} --split dev", ["Unknown split 'dev'", "validation"]),
    ("bad-positive", f"slices {RT} --by length --positive pos", ["--positive pos", "fresh, rotten"]),
    ("negative-n-boot", f"slices {RT} --by length --n-boot -5", ["--n-boot", "got -5"]),
    ("top-zero", f"errors {RT} --top 0", ["--top", "Example: --top 10"]),
]


@pytest.mark.parametrize("argv,expect", [pytest.param(a, e, id=i) for i, a, e in BAD])
def test_bad_input_is_one_clear_line(argv: str, expect: list[str], rt_run: tuple[str, int], ftlab_home: Path,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "reviews.csv").write_text(fx.CLI_REVIEWS_CSV)
    (tmp_path / "groups.yaml").write_text(fx.KEYWORDS_EMPTY_GROUP_YAML)
    for run_id, status in (("broken", "failed"), ("waiting", "queued")):
        folder = ftlab_home / "runs" / run_id
        if run_id in argv.split():  # only for its own case: other tests list the session's runs
            folder.mkdir(parents=True)
            (folder / "state.json").write_text(json.dumps({"run_id": run_id, "status": status,
                                                           "labels": ["fresh", "rotten"]}))
            (folder / "config.yaml").write_text(TrainConfig(name=run_id).to_yaml())  # a run folder starts with it
    try:
        rc, out, err = run_cli(argv.replace(RT, rt_run[0]).replace("{in}", str(tmp_path)).split(), capsys)
    finally:
        for run_id in ("broken", "waiting"):
            shutil.rmtree(ftlab_home / "runs" / run_id, ignore_errors=True)
    message = err.strip()
    assert rc == 2, f"exit code {rc}, stderr:\n{err}"
    assert out == "" and "Traceback" not in err and "\n" not in message and message.count("error:") == 1, err
    for text in expect:
        assert text in message, f"{text!r} missing from:\n{err}"
