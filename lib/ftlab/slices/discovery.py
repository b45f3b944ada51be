"""Automatic worst-slice discovery: which groups of examples does the model get wrong more often than the rest?

Candidate slices are words and word n-grams of the text, metadata values (numeric columns with many values cut
into quantile bins), pairs of values of two metadata columns, and KMeans clusters of the model's sentence
embeddings. Each candidate's error rate is compared with the rest of the table by a one-sided Fisher exact test,
and the p-values of every candidate tested are adjusted together with Benjamini–Hochberg, so `significant` keeps
the expected share of false discoveries among the flagged slices at `alpha`.

>>> table, _ = ftlab.evaluate.predictions("lora-rt-demo")  # doctest: +SKIP
>>> found = discover(table, embeddings=run_embeddings("lora-rt-demo").vectors)  # doctest: +SKIP
>>> found.significant.head()  # doctest: +SKIP
>>> found.examples(found.slices.index[0])  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from ftlab.analysis.errors import require_columns
from ftlab.errors import UserError

KINDS = ("keyword", "ngram", "metadata", "metadata_pair", "cluster")
"""Candidate families: single words, n-grams of 2+ words, metadata values, pairs of them, embedding clusters."""
RESERVED = ("example_id", "text", "gold", "predicted", "confidence", "correct")
"""Predictions-table columns that are not metadata (nor are the prob_<label> columns)."""
Ranking = Literal["lift", "excess_errors"]

_SHORT = 60


class _Candidate(NamedTuple):
    slice_id: str
    kind: str
    description: str
    rows: np.ndarray
    """Positions of the slice's rows in the table."""
    parents: tuple[str, ...] = ()
    """Slice ids of the candidates that contain this one by construction: 'zebra' for 'cold zebra'."""


@dataclass(frozen=True)
class Discovery:
    """Every candidate slice tested on one predictions table, ranked, with a way back to each slice's rows."""

    slices: pd.DataFrame
    """One row per candidate, indexed by slice_id (e.g. 'keyword:zebra', 'metadata:sex=Female',
    'metadata_pair:colour=red&size=small', 'cluster:3'): kind, description, size, errors, error_rate,
    overall_error_rate, rest_error_rate, lift (error_rate / overall_error_rate), excess_errors (errors above what
    the overall rate predicts), p_value, q_value (Benjamini–Hochberg over all rows), significant (q <= alpha and
    worse than the rest), explained_by (a significant parent slice it is no worse than, or ''). Order: significant
    slices nothing explains, by the ranking score; then the explained ones; then the rest by p-value."""
    table: pd.DataFrame
    """The predictions table searched."""
    members: dict[str, np.ndarray]
    """slice_id -> positions (for `table.iloc`) of the slice's rows."""
    overall_error_rate: float
    """Share of wrong predictions in the whole table."""
    alpha: float
    """False-discovery rate the `significant` column was decided at."""

    @property
    def significant(self) -> pd.DataFrame:
        """The slices flagged as worse than the rest, best-ranked first."""
        return self.slices[self.slices["significant"]]

    def positions(self, slice_id: str) -> np.ndarray:
        """Positions of the slice's rows in `table`, in table order."""
        if slice_id not in self.members:
            shown = ", ".join(map(repr, list(self.slices.index[:3]))) or "(none: nothing was tested)"
            raise UserError(f"Unknown slice '{slice_id}'. Slice ids look like 'keyword:zebra' or "
                            f"'metadata:sex=Female'; the top ones here are {shown}.")
        return self.members[slice_id]

    def examples(self, slice_id: str) -> pd.DataFrame:
        """The slice's rows of the predictions table."""
        return self.table.iloc[self.positions(slice_id)]

    def mask(self, slice_id: str) -> np.ndarray:
        """Boolean array over the table's rows: True inside the slice."""
        inside = np.zeros(len(self.table), dtype=bool)
        inside[self.positions(slice_id)] = True
        return inside

    def membership(self, slice_id: str, inside: str = "in slice", outside: str = "rest") -> pd.Series:
        """Slice labels aligned with the table, for per-slice calibration or colouring an embedding map."""
        return pd.Series(np.where(self.mask(slice_id), inside, outside), index=self.table.index, name=slice_id)


def discover(table: pd.DataFrame, *, embeddings: np.ndarray | None = None, min_support: int = 20,
             alpha: float = 0.05, max_ngram: int = 2, columns: list[str] | None = None, bins: int = 5,
             n_clusters: int | None = None, rank_by: Ranking = "lift", seed: int = 0) -> Discovery:
    """Find the slices of a predictions table where the model errs significantly more often than elsewhere.

    `table` needs a `correct` column; `text` adds keyword and n-gram candidates (1 to `max_ngram` words,
    lower-cased; 0 turns them off; n-grams made only of English stop words are left out). `columns` are the
    metadata columns to slice by (default: every column that is not example_id, text, gold, predicted, prob_*,
    confidence or correct); numeric ones with more than 10 values are cut into `bins` quantile bins.
    `embeddings` (one row per table row) adds KMeans clusters: `n_clusters`, by default 8 to 20 from the size.
    A candidate needs `min_support` rows inside and as many outside. `rank_by` orders the significant slices:
    "lift" (how many times the overall error rate) or "excess_errors" (errors above what the overall rate predicts,
    which favours large slices over their small sub-slices). A significant slice that is no worse than a
    significant slice containing it ('cold zebra' inside 'zebra', 'sex = Male & race = White' inside 'sex = Male')
    names it in `explained_by` and ranks after the slices nothing explains.
    """
    n = _check(table, min_support, alpha, max_ngram, bins, n_clusters, rank_by)
    metadata = _metadata_columns(table, columns)
    vectors = None if embeddings is None else _check_embeddings(embeddings, n)
    wrong = ~table["correct"].astype(bool).to_numpy()
    candidates: list[_Candidate] = []
    if max_ngram and "text" in table.columns:
        candidates += _ngram_candidates(table["text"], min_support, max_ngram)
    candidates += _metadata_candidates({c: _codes(table[c], bins) for c in metadata}, n, min_support)
    if vectors is not None:
        texts = table["text"].astype(str).tolist() if "text" in table.columns else None
        candidates += _cluster_candidates(vectors, texts, min_support, n_clusters, seed)
    return _rank(table, candidates, wrong, alpha, rank_by)


def _check(table: Any, min_support: Any, alpha: Any, max_ngram: Any, bins: Any, n_clusters: Any,
           rank_by: Any) -> int:
    require_columns(table, ("correct",), "Slice discovery")
    for name, value, low, example in [("min_support", min_support, 1, 20), ("max_ngram", max_ngram, 0, 2),
                                      ("bins", bins, 2, 5), ("n_clusters", n_clusters, 2, 10)]:
        if value is None and name == "n_clusters":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise UserError(f"{name} must be a whole number of at least {low}, got {value!r}. "
                            f"Example: {name}={example}.")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise UserError(f"alpha must be a number between 0 and 1, got {alpha!r}. Example: alpha=0.05.")
    if rank_by not in ("lift", "excess_errors"):
        raise UserError(f"rank_by must be 'lift' or 'excess_errors', got {rank_by!r}. Example: rank_by='lift'.")
    if table["correct"].isna().any():
        raise UserError("The table's `correct` column has missing values; every row needs True or False. "
                        "Use a predictions table from ftlab.evaluate.predictions(run_id).")
    if len(table) < 2 * min_support:
        raise UserError(f"Slice discovery needs at least {2 * min_support} rows (min_support={min_support} inside a "
                        f"slice and as many outside it); the table has {len(table)}. Use a larger split or a "
                        f"smaller min_support, e.g. min_support={max(1, len(table) // 4)}.")
    return len(table)


def _check_embeddings(embeddings: Any, n: int) -> np.ndarray:
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != n:
        raise UserError(f"embeddings must have one row per table row: the table has {n} rows, the embeddings have "
                        f"shape {vectors.shape}. Compute them for the same split, e.g. "
                        "run_embeddings(run_id, split).vectors.")
    return vectors


def _metadata_columns(table: pd.DataFrame, columns: list[str] | None) -> list[str]:
    available = [c for c in table.columns if c not in RESERVED and not str(c).startswith("prob_")]
    if columns is None:
        return available
    unknown = [c for c in columns if c not in available]
    if unknown:
        example = available[0] if available else "sex"
        raise UserError(f"Unknown column '{unknown[0]}': the table's metadata columns are "
                        f"{', '.join(map(str, available)) or '(none)'}. Example: columns=['{example}'].")
    return list(dict.fromkeys(columns))


# -- candidates: (slice_id, kind, description, row positions) --------------------------------------------------

def _ngram_candidates(texts: pd.Series, min_support: int, max_ngram: int) -> list[_Candidate]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    n = len(texts)
    vectorizer = CountVectorizer(ngram_range=(1, max_ngram), min_df=min_support, binary=True, lowercase=True,
                                 dtype=np.int32)
    try:
        present = vectorizer.fit_transform(texts.fillna("").astype(str)).tocsc()
    except ValueError:  # no word or n-gram reaches min_support: nothing to test
        return []
    found = []
    for j, term in enumerate(vectorizer.get_feature_names_out()):
        words = term.split()
        rows = present.indices[present.indptr[j]:present.indptr[j + 1]]
        # Stop words may sit inside a phrase ("waste of time") but not make it up on their own ("of the").
        if all(w in ENGLISH_STOP_WORDS for w in words) or len(rows) > n - min_support:
            continue
        kind = "keyword" if len(words) == 1 else "ngram"
        shorter = [" ".join(words[i:i + len(words) - 1]) for i in range(2)] if len(words) > 1 else []
        parents = tuple(f"{'keyword' if len(words) == 2 else 'ngram'}:{part}" for part in shorter)
        found.append(_Candidate(f"{kind}:{term}", kind, f'text contains "{term}"', np.sort(rows), parents))
    return found


def _codes(column: pd.Series, bins: int) -> tuple[np.ndarray, list[str]]:
    """An integer code per row and a name per code; NaN is a value of its own, '(missing)'."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric and column.nunique() > 10:
        return _quantile_bins(column.to_numpy(dtype=float), bins)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    names = [str(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(names), codes)
        names.append("(missing)")
    return codes, names


def _quantile_bins(values: np.ndarray, bins: int) -> tuple[np.ndarray, list[str]]:
    """Quantile bins named as the data reads: '[17, 28)', the last one closed, '[52, 90]'.

    np.quantile + np.digitize rather than pd.qcut: qcut's first bin starts below the minimum, '(16.999, 28.0]'.
    """
    missing = np.isnan(values)
    edges = np.unique(np.quantile(values[~missing], np.linspace(0, 1, bins + 1)))
    names = [f"[{low:g}, {high:g})" for low, high in zip(edges, edges[1:])] or [f"{edges[0]:g}"]
    names[-1] = names[-1].replace(")", "]")
    codes = np.digitize(values, edges[1:-1])
    if missing.any():
        codes = np.where(missing, len(names), codes)
        names.append("(missing)")
    return codes, names


def _metadata_candidates(coded: dict[str, tuple[np.ndarray, list[str]]], n: int,
                         min_support: int) -> list[_Candidate]:
    def fits(size: int) -> bool:
        return min_support <= size <= n - min_support

    found = []
    for column, (codes, names) in coded.items():
        for code, size in enumerate(np.bincount(codes, minlength=len(names))):
            if fits(size):
                found.append(_Candidate(f"metadata:{column}={names[code]}", "metadata", f"{column} = {names[code]}",
                                        np.flatnonzero(codes == code)))
    for (a, (codes_a, names_a)), (b, (codes_b, names_b)) in combinations(coded.items(), 2):
        single_a, single_b = np.bincount(codes_a, minlength=len(names_a)), np.bincount(codes_b, minlength=len(names_b))
        joint = codes_a * len(names_b) + codes_b
        for key, size in enumerate(np.bincount(joint, minlength=len(names_a) * len(names_b))):
            va, vb = divmod(key, len(names_b))
            # A pair with as many rows as one of its values is that value's slice again (e.g. race given country).
            if fits(size) and size not in (single_a[va], single_b[vb]):
                found.append(_Candidate(f"metadata_pair:{a}={names_a[va]}&{b}={names_b[vb]}", "metadata_pair",
                                        f"{a} = {names_a[va]} & {b} = {names_b[vb]}", np.flatnonzero(joint == key),
                                        (f"metadata:{a}={names_a[va]}", f"metadata:{b}={names_b[vb]}")))
    return found


def _cluster_count(n: int, min_support: int) -> int:
    """8 to 20 clusters growing with the size (√(n/10)), but never so many that clusters fall under min_support."""
    return int(min(np.clip(round(np.sqrt(n / 10)), 8, 20), max(2, n // (2 * min_support))))


def _cluster_candidates(vectors: np.ndarray, texts: list[str] | None, min_support: int, n_clusters: int | None,
                        seed: int) -> list[_Candidate]:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    n = len(vectors)
    k = min(n_clusters or _cluster_count(n, min_support), n)
    # On arrays this small, BLAS/OpenMP threads cost more than they save: 25x slower on a busy 2-core machine.
    with threadpool_limits(1):
        if vectors.shape[1] > 50:  # distances over hundreds of dimensions are slow and noisy; 50 components suffice
            vectors = PCA(50, random_state=seed).fit_transform(vectors)
        model = KMeans(k, n_init=3, random_state=seed).fit(vectors)
        distances = model.transform(vectors)
    found = []
    for cluster in range(k):
        rows = np.flatnonzero(model.labels_ == cluster)
        if not min_support <= len(rows) <= n - min_support:
            continue
        central = rows[distances[rows, cluster].argmin()]
        like = f' (like "{_shorten(texts[central])}")' if texts else ""
        found.append(_Candidate(f"cluster:{cluster}", "cluster", f"embedding cluster {cluster}{like}", rows))
    return found


def _shorten(text: str) -> str:
    return text if len(text) <= _SHORT else text[:_SHORT - 1].rstrip() + "…"


# -- the test and the ranking --------------------------------------------------------------------------------------

def _rank(table: pd.DataFrame, candidates: list[_Candidate], wrong: np.ndarray, alpha: float,
          rank_by: Ranking) -> Discovery:
    from scipy.stats import false_discovery_control, hypergeom

    n, total_errors = len(wrong), int(wrong.sum())
    overall = total_errors / n
    sizes = np.array([len(c.rows) for c in candidates], dtype=np.int64)
    errors = np.array([int(wrong[c.rows].sum()) for c in candidates], dtype=np.int64)
    # Fisher rather than a binomial test against the overall rate: the slice is part of the overall rate, and
    # Fisher compares it with the rest, exactly, conditional on the total number of errors. Its one-sided p-value is
    # the hypergeometric tail P(X >= errors), which scipy computes for all candidates at once.
    p_values = hypergeom.sf(errors - 1, n, total_errors, sizes) if candidates else np.array([])
    q_values = false_discovery_control(p_values, method="bh") if candidates else np.array([])
    with np.errstate(divide="ignore", invalid="ignore"):
        error_rate = errors / sizes
        rest_rate = (total_errors - errors) / (n - sizes)
        lift = error_rate / overall if overall else np.full(len(sizes), np.nan)
    frame = pd.DataFrame({
        "kind": [c.kind for c in candidates], "description": [c.description for c in candidates], "size": sizes,
        "errors": errors, "error_rate": error_rate, "overall_error_rate": overall, "rest_error_rate": rest_rate,
        "lift": lift, "excess_errors": errors - sizes * overall, "p_value": p_values, "q_value": q_values,
    }, index=pd.Index([c.slice_id for c in candidates], name="slice_id"))
    frame["significant"] = (frame["q_value"] <= alpha) & (frame["error_rate"] > frame["rest_error_rate"])
    frame["explained_by"] = _explained_by(frame, candidates, alpha)
    leading = frame["significant"] & (frame["explained_by"] == "")
    order = [frame[leading].sort_values([rank_by, "p_value"], ascending=[False, True], kind="stable"),
             frame[frame["significant"] & ~leading].sort_values([rank_by, "p_value"], ascending=[False, True],
                                                                 kind="stable"),
             frame[~frame["significant"]].sort_values(["p_value", "size"], ascending=[True, False], kind="stable")]
    return Discovery(pd.concat(order), table, {c.slice_id: c.rows for c in candidates}, overall, float(alpha))


def _explained_by(frame: pd.DataFrame, candidates: list[_Candidate], alpha: float) -> list[str]:
    """For each significant slice, a significant parent it is not significantly worse than ('' when none).

    Without this, 'cold zebra', 'plot zebra', ... outrank 'zebra' by chance: each is a sample of the zebra texts,
    and the smallest samples have the most extreme rates. The test is Fisher's again, inside the parent, with
    Benjamini–Hochberg over these tests; it only orders the list (explained slices go after the others).
    """
    from scipy.stats import false_discovery_control, hypergeom

    significant = frame["significant"].to_numpy()
    sizes, errors = frame["size"].to_numpy(), frame["errors"].to_numpy()
    position = {slice_id: i for i, slice_id in enumerate(frame.index)}
    child, parent = [], []
    for i, candidate in enumerate(candidates):
        if significant[i]:
            for p in candidate.parents:
                if p in position and significant[position[p]]:
                    child.append(i)
                    parent.append(position[p])
    explained = [""] * len(candidates)
    if not child:
        return explained
    child_at, parent_at = np.array(child), np.array(parent)
    within = hypergeom.sf(errors[child_at] - 1, sizes[parent_at], errors[parent_at], sizes[child_at])
    q_within = false_discovery_control(within, method="bh")
    for i, j, q in sorted(zip(child, parent, q_within), key=lambda t: t[2]):  # the most explaining parent wins
        if q > alpha:
            explained[i] = str(frame.index[j])
    return explained
