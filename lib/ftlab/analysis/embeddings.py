"""Sentence embeddings of a run's texts, from its own fine-tuned model, and a 2-D map of them.

An embedding is the mean over a text's tokens (padding left out) of the model's last hidden state. A run's
embeddings of a split are computed once and cached in `<home>/runs/<run>/analysis/embeddings-<split>-<stamp>.npy`,
where the stamp is the model files' newest modification time (as the explanation cache keys it), so a retrained or
replaced model misses the cache. Rows follow the split's predictions table (`ftlab.evaluate.predictions`).

>>> found = run_embeddings("lora-rt-demo", "test")  # doctest: +SKIP
>>> coords = embedding_map(found.vectors)  # doctest: +SKIP
>>> map_figure(coords, found.table, color_by="correct")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ftlab.errors import UserError

MapMethod = Literal["auto", "pca", "tsne"]
_PCA_BELOW = 50
"""`embedding_map`'s "auto" uses PCA under this many rows: t-SNE needs a neighbourhood to work with."""
_HOVER_CHARS = 80


@dataclass(frozen=True)
class RunEmbeddings:
    """A run's sentence embeddings of one split, row-aligned with its predictions table."""

    vectors: np.ndarray
    """(rows, hidden size) float32; row i embeds `table`'s row i."""
    table: pd.DataFrame
    """The split's predictions table, from `ftlab.evaluate.predictions(run_id, split)`."""
    path: Path
    """The cache file (.npy) in the run's `analysis/` folder."""
    cached: bool
    """True when `vectors` were read from `path` rather than computed by the model."""


def embed_texts(model: Any, tokenizer: Any, texts: list[str], *, max_length: int = 128,
                batch_size: int = 64) -> np.ndarray:
    """Mean-pooled last hidden state of `model` for each text, as a (len(texts), hidden size) float32 array."""
    import torch

    # Texts of similar length share a batch, so little compute goes into padding; rows go back in order at the end.
    order = np.argsort([len(t) for t in texts], kind="stable")
    device = next(model.parameters()).device
    model.eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer([texts[i] for i in order[start:start + batch_size]], truncation=True,
                              max_length=max_length, padding=True, return_tensors="pt").to(device)
            hidden = model(**batch, output_hidden_states=True).hidden_states[-1].float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            parts.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy())
    pooled = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    vectors = np.empty_like(pooled, dtype=np.float32)
    vectors[order] = pooled
    return vectors


def run_embeddings(run_id: str, split: str = "test", *, batch_size: int | None = None,
                   use_cache: bool = True) -> RunEmbeddings:
    """The run's fine-tuned model's embeddings of a split's texts, computed once and cached in the run folder."""
    from ftlab.evaluate import load_trained, predictions
    from ftlab.runs import model_stamp, run_dir

    table, _ = predictions(run_id, split)
    if not (run_dir(run_id) / "model").is_dir():
        load_trained(run_id)  # raises the UserError that says why the run has no model
    stamp = model_stamp(run_id)
    folder = run_dir(run_id) / "analysis"
    path = folder / f"embeddings-{split}-{int(stamp * 1_000_000)}.npy"
    if use_cache and path.is_file():
        try:
            vectors = np.load(path)
        except (OSError, ValueError):  # a torn or corrupt file is recomputed, not an error
            vectors = None
        if vectors is not None and vectors.ndim == 2 and len(vectors) == len(table):
            return RunEmbeddings(vectors, table, path, cached=True)
    model, tokenizer, config, _, _ = load_trained(run_id)
    vectors = embed_texts(model, tokenizer, table["text"].astype(str).tolist(), max_length=config.max_length or 128,
                          batch_size=batch_size or config.eval_batch_size)
    _save(path, vectors)
    return RunEmbeddings(vectors, table, path, cached=False)


def embedding_map(vectors: np.ndarray, *, method: MapMethod = "auto", seed: int = 0) -> np.ndarray:
    """(rows, 2) coordinates of the embeddings: PCA under 50 rows or when `method="pca"`, else t-SNE.

    t-SNE runs on the first 50 principal components (sklearn's advice for dense, wide data), from a PCA start,
    with a fixed `random_state`, so the same embeddings always give the same map.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    if method not in ("auto", "pca", "tsne"):
        raise UserError(f"method must be 'auto', 'pca' or 'tsne', got {method!r}. Example: method='pca'.")
    points = np.asarray(vectors, dtype=np.float32)
    if points.ndim != 2 or len(points) < 3:
        raise UserError(f"A map needs at least 3 embeddings as a (rows, dimensions) array, got shape {points.shape}. "
                        "Use a split with more examples.")
    # One thread: with a training job beside it, OpenMP's spinning threads made t-SNE 7x slower on 2 cores.
    with threadpool_limits(1):
        if method == "pca" or (method == "auto" and len(points) < _PCA_BELOW):
            return PCA(2, random_state=seed).fit_transform(points)
        if points.shape[1] > 50:
            points = PCA(50, random_state=seed).fit_transform(points)
        perplexity = min(30.0, (len(points) - 1) / 3)  # sklearn requires perplexity < rows
        return TSNE(2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(points)


def map_frame(coords: np.ndarray, table: pd.DataFrame, color_by: str | pd.Series = "correct") -> pd.DataFrame:
    """The map's points as a table: x, y, the colour column (named as `color_by`), text shortened for hovering,
    and example_id, gold, predicted, confidence where the table has them."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(table):
        raise UserError(f"coords must be one (x, y) pair per table row: the table has {len(table)} rows, coords "
                        f"have shape {coords.shape}. Use embedding_map(run_embeddings(run_id).vectors).")
    name, colour = _colour(table, color_by)
    frame = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], name: colour})
    if "text" in table.columns:
        frame["text"] = [_shorten(str(t)) for t in table["text"]]
    for column in ("example_id", "gold", "predicted", "confidence"):
        if column in table.columns and column != name:
            frame[column] = table[column].to_numpy()
    return frame


def map_figure(coords: np.ndarray, table: pd.DataFrame, color_by: str | pd.Series = "correct",
               title: str | None = None) -> Any:
    """Plotly scatter of the map, coloured by a table column (gold, predicted, correct, a metadata column) or by
    slice labels aligned with the table; hovering shows the shortened text."""
    import plotly.express as px

    frame = map_frame(coords, table, color_by)
    colour = frame.columns[2]
    hover = {c: True for c in ("example_id", "gold", "predicted", "confidence") if c in frame.columns}
    figure = px.scatter(frame, x="x", y="y", color=colour, hover_name="text" if "text" in frame.columns else None,
                        hover_data={"x": False, "y": False, **hover}, title=title or f"Embedding map by {colour}")
    figure.update_traces(marker={"size": 5, "opacity": 0.8})
    figure.update_layout(xaxis={"visible": False}, yaxis={"visible": False})
    return figure


def _colour(table: pd.DataFrame, color_by: str | pd.Series) -> tuple[str, np.ndarray]:
    """The colour column's name and values: numbers stay continuous, everything else becomes categories."""
    if isinstance(color_by, pd.Series):
        if len(color_by) != len(table):
            raise UserError(f"color_by has {len(color_by)} labels but the table has {len(table)} rows: give one "
                            "label per row, e.g. Discovery.membership(slice_id).")
        name, values = str(color_by.name or "slice"), color_by.to_numpy()
    elif isinstance(color_by, str) and color_by in table.columns:
        name, values = color_by, table[color_by].to_numpy()
    else:
        raise UserError(f"Unknown colour column '{color_by}': the table's columns are "
                        f"{', '.join(map(str, table.columns))}. Example: color_by='correct'.")
    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return name, values
    return name, series.astype("string").fillna("(missing)").to_numpy(dtype=object)


def _shorten(text: str) -> str:
    return text if len(text) <= _HOVER_CHARS else text[:_HOVER_CHARS - 1].rstrip() + "…"


def _save(path: Path, vectors: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(temporary, vectors)
    temporary.replace(path)  # atomic: a reader never sees half a file
    split = path.stem.rsplit("-", 1)[0]
    for stale in path.parent.glob(f"{split}-*.npy"):  # embeddings of an older model of the same split
        if stale != path and not stale.name.endswith(".tmp.npy"):
            stale.unlink(missing_ok=True)
