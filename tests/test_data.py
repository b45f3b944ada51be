"""ftlab.data: embedded datasets, the registry, user tables and splits."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import fixtures as fx
from ftlab.data import (
    SPLITS,
    DatasetSpec,
    get_dataset,
    list_datasets,
    load_table,
    register_dataset,
    split_frame,
)
from ftlab.data.splits import subsample
from ftlab.errors import UserError


@pytest.fixture(scope="module")
def rotten_tomatoes() -> pd.DataFrame:
    return get_dataset("rotten_tomatoes").load()


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return get_dataset("adult_text").load()


def toy_frame(n_per_class: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in n_per_class.items() for _ in range(n)]
    return pd.DataFrame({"text": [f"text {i}" for i in range(len(labels))], "label": labels})


# --- registry ----------------------------------------------------------------------------------------------------


def test_builtin_datasets_are_registered() -> None:
    specs = {spec.name: spec for spec in list_datasets()}
    assert set(specs) >= {"rotten_tomatoes", "adult_text", "wnut16"}
    assert specs["wnut16"].task == "ner"
    assert specs["rotten_tomatoes"].group_col == "movie_name"


def test_unknown_dataset_lists_known_ones_and_the_command() -> None:
    with pytest.raises(UserError, match=r"Unknown dataset 'rt'.*rotten_tomatoes.*ftlab datasets"):
        get_dataset("rt")


@pytest.mark.parametrize(
    ("name", "task", "match"),
    [("adult_text", "classification", "already registered"), ("Bad Name", "classification", "Bad dataset name"),
     ("fresh_name", "regression", "task")],
)
def test_register_rejects_bad_specs(name: str, task: str, match: str) -> None:
    spec = DatasetSpec(name=name, task=task, load=pd.DataFrame, description="test")
    with pytest.raises(ValueError, match=match):
        register_dataset(spec)


# --- embedded datasets -------------------------------------------------------------------------------------------


def test_rotten_tomatoes_counts(rotten_tomatoes: pd.DataFrame) -> None:
    assert len(rotten_tomatoes) == fx.RT_FRESH + fx.RT_ROTTEN - fx.RT_DUPLICATE_TEXTS
    assert set(rotten_tomatoes["label"]) == {"fresh", "rotten"}
    assert rotten_tomatoes["text"].is_unique
    assert list(rotten_tomatoes.columns) == ["text", "label", "movie_name"]
    assert (rotten_tomatoes["text"] == rotten_tomatoes["text"].str.strip()).all()


def test_adult_counts_and_rendering(adult: pd.DataFrame) -> None:
    assert len(adult) == fx.ADULT_TRAIN_ROWS + fx.ADULT_TEST_ROWS
    assert adult["source_split"].value_counts().to_dict() == {"train": fx.ADULT_TRAIN_ROWS, "test": fx.ADULT_TEST_ROWS}
    assert set(adult["label"]) == {">50K", "<=50K"}
    assert {"sex", "race", "age"} <= set(adult.columns)
    assert adult["text"].iloc[0] == fx.ADULT_FIRST_TEXT
    assert not adult["text"].str.contains(r"\bnan\b|\?|,\s*,").any()


def test_adult_text_never_names_sex_or_race(adult: pd.DataFrame) -> None:
    protected = set(adult["sex"]) | set(adult["race"])
    assert {"Male", "Female", "White", "Black"} <= protected
    # Compare whole tokens: "Other" is a race value, "Other-service" an occupation that may stay.
    words = set().union(*(re.split(r"[,\s]+", text) for text in adult["text"]))
    assert not words & protected
    assert not {w.lower() for w in words} & {"male", "female", "man", "woman", "men", "women"}


def test_wnut16_sentences() -> None:
    frame = get_dataset("wnut16").load()
    assert len(frame) == fx.WNUT16_SENTENCES
    assert (frame["tokens"].map(len) == frame["tags"].map(len)).all()
    assert (frame["tokens"].map(len) > 0).all()
    assert {tag for tags in frame["tags"] for tag in tags} >= {"O", "B-person", "I-person"}


# --- splits ------------------------------------------------------------------------------------------------------


def test_group_split_keeps_each_movie_in_one_split(rotten_tomatoes: pd.DataFrame) -> None:
    parts = split_frame(rotten_tomatoes, seed=0, group_col="movie_name")
    movies = [set(parts[name]["movie_name"]) for name in SPLITS]
    assert not (movies[0] & movies[1] or movies[0] & movies[2] or movies[1] & movies[2])
    assert sum(len(p) for p in parts.values()) == len(rotten_tomatoes)


def test_splits_are_deterministic_per_seed(adult: pd.DataFrame) -> None:
    first, again, other = (split_frame(adult, seed=s) for s in (1, 1, 2))
    for name in SPLITS:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["test"]["example_id"].equals(other["test"]["example_id"])


def test_split_sizes_stratification_and_example_ids(adult: pd.DataFrame) -> None:
    parts = split_frame(adult, seed=0)
    assert [len(parts[name]) for name in SPLITS] == [39074, 4884, 4884]
    ids = pd.concat([parts[name]["example_id"] for name in SPLITS])
    assert ids.is_unique and len(ids) == len(adult)
    share = adult["label"].value_counts(normalize=True)
    for part in parts.values():
        assert (part["label"].value_counts(normalize=True) - share).abs().max() < 0.005
        assert list(part.index) == list(range(len(part)))
    test = parts["test"]
    assert (adult["text"].iloc[test["example_id"]].to_numpy() == test["text"].to_numpy()).all()
    resplit = split_frame(parts["train"], seed=0)["test"]
    assert (adult["text"].iloc[resplit["example_id"]].to_numpy() == resplit["text"].to_numpy()).all()


def test_split_falls_back_when_a_class_is_tiny() -> None:
    parts = split_frame(toy_frame({"a": 20, "b": 2}), seed=0)
    assert sum(len(p) for p in parts.values()) == 22
    assert all(len(p) > 0 for p in parts.values())


def test_split_stratifies_every_class_into_every_split() -> None:
    parts = split_frame(toy_frame({"a": 60, "b": 30, "c": 3}), seed=3)
    assert all(set(p["label"]) == {"a", "b", "c"} for p in parts.values())


def test_split_of_three_rows_and_errors() -> None:
    assert [len(p) for p in split_frame(toy_frame({"a": 3}), seed=0).values()] == [1, 1, 1]
    with pytest.raises(UserError, match="at least 3"):
        split_frame(toy_frame({"a": 2}), seed=0)
    with pytest.raises(UserError, match="add up to 1"):
        split_frame(toy_frame({"a": 10}), seed=0, fractions=(0.5, 0.5, 0.5))
    with pytest.raises(UserError, match="at least 3"):
        split_frame(toy_frame({"a": 10}).assign(g=["x", "y"] * 5), seed=0, group_col="g")


def test_subsample_is_stratified_and_deterministic(adult: pd.DataFrame) -> None:
    sample = subsample(adult, 100, seed=0)
    assert len(sample) == 100
    assert sample["label"].value_counts().to_dict() == {"<=50K": 76, ">50K": 24}
    pd.testing.assert_frame_equal(sample, subsample(adult, 100, seed=0))
    assert not sample["text"].equals(subsample(adult, 100, seed=1)["text"])


def test_subsample_keeps_every_class_and_checks_size() -> None:
    frame = toy_frame({"a": 50, "b": 1, "c": 1})
    assert set(subsample(frame, 3, seed=0)["label"]) == {"a", "b", "c"}
    assert subsample(frame, 500, seed=0) is frame
    with pytest.raises(UserError, match="number of classes"):
        subsample(frame, 2, seed=0)


# --- load_table: good files --------------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_load_csv_keeps_metadata(tmp_path: Path) -> None:
    frame = load_table(write(tmp_path, "reviews.csv", fx.GOOD_CSV), "text", "label")
    assert list(frame.columns) == ["text", "label", "source"]
    assert frame["text"].iloc[2] == 'a "classic", truly'
    assert frame["label"].tolist() == ["pos", "neg", "pos", "neg"]


def test_load_renames_colliding_columns_and_strips_labels(tmp_path: Path) -> None:
    frame = load_table(write(tmp_path, "reviews.csv", fx.COLLIDING_CSV), "review", "sentiment")
    assert list(frame.columns) == ["text", "label", "text_original", "example_id_original"]
    assert frame["label"].tolist() == ["pos", "neg"]


@pytest.mark.parametrize(
    ("name", "content", "labels"),
    [("r.tsv", fx.GOOD_TSV, ["pos", "neg"]), ("r.jsonl", fx.GOOD_JSONL, ["1", "0"]),
     ("r.json", fx.GOOD_JSON_ARRAY, ["pos", "neg"]), ("r.csv", fx.BOM_CSV, ["pos", "neg"])],
)
def test_load_other_formats(tmp_path: Path, name: str, content: str, labels: list[str]) -> None:
    frame = load_table(write(tmp_path, name, content))
    assert frame["label"].tolist() == labels
    assert frame.columns[:2].tolist() == ["text", "label"]


def test_load_parquet_with_float_labels(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pd.DataFrame({"sentence": ["great", "dull"], "y": [1.0, 0.0], "stars": [5, 1]}).to_parquet(path)
    frame = load_table(path, "sentence", "y")
    assert frame["label"].tolist() == ["1", "0"]
    assert frame["stars"].tolist() == [5, 1]


# --- load_table: every bad input is a UserError that names the fix -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("r.xlsx", "x", r"unsupported extension.*\.csv.*Export"),
        ("r.csv", fx.CSV_EXTRA_FIELD, r"not valid CSV: row 2 has 3 fields but the header has 2.*double quotes"),
        ("r.csv", fx.CSV_UNCLOSED_QUOTE, r"not valid CSV: a quoted field that starts in row 2 never closes"),
        ("r.jsonl", fx.JSONL_MALFORMED, r"not valid JSON at line 2.*one complete object per line"),
        ("r.jsonl", fx.JSONL_NOT_OBJECT, r"line 2 is a JSON list, not an object"),
        ("r.csv", fx.LATIN1_CSV, r"not UTF-8.*line 2.*Re-save it as UTF-8"),
        ("r.csv", fx.WRONG_COLUMNS_CSV, r"no column 'text'.*sentence, category.*Set the text column"),
        ("r.csv", fx.SEMICOLON_CSV, r"no column 'text'.*';'"),
        ("r.csv", "", r"no rows"),
        ("r.csv", fx.HEADER_ONLY_CSV, r"no rows"),
        ("r.jsonl", "\n\n", r"no rows"),
        ("r.csv", fx.ONE_CLASS_CSV, r"only one class \('pos'\).*Add examples of the other classes"),
        ("r.csv", fx.NO_LABELS_CSV, r"empty in every row.*set the label column"),
        ("r.csv", fx.BLANK_TEXTS_CSV, r"3 rows .*whitespace-only text.*rows 2, 3, 5.*delete those rows"),
        ("r.csv", fx.MISSING_LABELS_CSV, r"2 rows .*no label.*rows 2, 4.*Drop those rows or fill in"),
        ("r.parquet", "not parquet", r"not a readable Parquet file.*save it as CSV"),
    ],
)
def test_bad_tables_raise_user_error(tmp_path: Path, name: str, content: str | bytes, match: str) -> None:
    with pytest.raises(UserError, match=match) as info:
        load_table(write(tmp_path, name, content), "text", "label")
    assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"No file at .*Check the spelling"):
        load_table(tmp_path / "nope.csv")
    with pytest.raises(UserError, match=r"is a folder, not a file.*Pass the data file inside it"):
        load_table(tmp_path)


def test_same_text_and_label_column(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Choose two different columns"):
        load_table(write(tmp_path, "r.csv", fx.GOOD_CSV), "text", "text")
