"""A user's labelled file scored by a run's model: the same predictions table `ftlab.evaluate.predictions` gives.

Slice reports, error analysis and calibration read that table, so they work on an uploaded file as on a split.

>>> table = scored_table("full-rt-demo", "my_reviews.csv", text_col="review", label_col="verdict")  # doctest: +SKIP
>>> slice_report(table, by=["source"])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ftlab.data import load_table
from ftlab.data.files import free_name
from ftlab.runs import read_state, require_classification

PREDICTION_COLUMNS = ("gold", "predicted", "confidence", "correct")
"""Columns the predictions table adds (with prob_<label> per label): a file's own column of that name is renamed."""


def scored_table(run_id: str, path: str | Path, *, text_col: str = "text", label_col: str = "label") -> pd.DataFrame:
    """Predictions of run `run_id` on a labelled CSV/TSV/JSONL/Parquet file, every other column kept as metadata.

    Columns: example_id (the row's position), text, gold, predicted, prob_<label> per label, confidence, correct,
    then the file's other columns (one whose name the table uses gets an `_original` suffix). Raises `UserError`
    for an unknown run, a run without a trained model, a file `ftlab.data.load_table` refuses, and labels the
    model does not know.
    """
    # Imported here: `import ftlab.analysis` should not cost torch and transformers to the modules that need neither.
    from ftlab.evaluate import load_trained, score_frame

    read_state(run_id)
    require_classification(run_id, "scoring a labelled file for slices and error analysis")
    frame = load_table(path, text_col=text_col, label_col=label_col)
    model, tokenizer, config, labels, task = load_trained(run_id)
    table, _ = score_frame(task, model, tokenizer, _clear_of(frame, labels), config, labels)
    return table


def _clear_of(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The frame with its metadata renamed away from the prediction columns, which would otherwise overwrite them."""
    taken = {*PREDICTION_COLUMNS, *(f"prob_{label}" for label in labels)}
    names = set(map(str, frame.columns)) | taken
    renames = {c: free_name(f"{c}_original", names) for c in frame.columns if c in taken}
    return frame.rename(columns=renames)
