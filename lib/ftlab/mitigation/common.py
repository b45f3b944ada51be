"""What every mitigation needs from the training split: each row's group (an integer code of the sensitive
column), each row's label id, and which label counts as positive.

Group codes are fixed by the training split (its distinct values, sorted as text), so the sampler, the loss terms
and the validation batches agree on them. A value the training split lacks gets code -1 and is left out of the
penalties. A missing value (NaN) is a group of its own, named `<missing>`.

The positive label is the minority class of the training split (ties: the first label in sorted order): `>50K`
on adult_text, the outcome fairness is usually asked about. With two labels the choice does not matter: the gap
in P(positive) between groups equals the gap in P(negative), and equalised odds sums both true-label subsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ftlab.errors import UserError

if TYPE_CHECKING:
    from ftlab.config import TrainConfig

GROUP_COL = "sensitive_group"
"""Column of group codes added to the train and validation frames; the penalties receive it per batch."""
MISSING = "<missing>"
MAX_GROUPS = 20
"""Above this, most groups have one or two rows per batch: the penalties would chase noise."""
NOT_METADATA = ("text", "label", "example_id")


@dataclass(frozen=True)
class TrainingGroups:
    groups: np.ndarray
    """Group code of each training row, in the training split's order (the order of the encoded dataset)."""
    labels: np.ndarray
    """Label id of each training row: its index in the run's sorted labels."""
    names: list[str]
    """Group code -> the sensitive column's value, as text."""
    positive: int
    """Label id of the positive class: the minority class of the training split."""

    @classmethod
    def of(cls, config: TrainConfig, train_frame: pd.DataFrame, labels: list[str]) -> TrainingGroups:
        check_sensitive_col(config, train_frame)
        column = train_frame[config.sensitive_col]
        names = group_names(column)
        label_ids = train_frame["label"].astype(str).map({label: i for i, label in enumerate(labels)}).to_numpy()
        counts = np.bincount(label_ids.astype(int), minlength=len(labels))
        return cls(groups=group_codes(column, names), labels=label_ids.astype(int), names=names,
                   positive=int(np.argmin(counts)))


def _as_text(column: pd.Series) -> pd.Series:
    return column.map(lambda value: MISSING if pd.isna(value) else str(value))


def group_names(column: pd.Series) -> list[str]:
    """The distinct values of the training split's sensitive column, as text, sorted: code i is names[i]."""
    return sorted(_as_text(column).unique())


def group_codes(column: pd.Series, names: list[str]) -> np.ndarray:
    """Code of each value in `names`, -1 for a value that is not there."""
    index = {name: code for code, name in enumerate(names)}
    return _as_text(column).map(lambda value: index.get(value, -1)).to_numpy(dtype=np.int64)


def metadata_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if c not in NOT_METADATA]


def check_sensitive_col(config: TrainConfig, train_frame: pd.DataFrame) -> None:
    """`--sensitive-col` must name a metadata column with 2 to `MAX_GROUPS` values in the training split."""
    col = config.sensitive_col
    if col is None:
        return
    metadata = metadata_columns(train_frame)
    if col not in metadata:
        if not metadata:
            raise UserError(f"--sensitive-col '{col}' is not a column of the dataset, which has no metadata columns "
                            "besides text and label. Add a column holding each row's group to your --data file.")
        raise UserError(f"--sensitive-col '{col}' is not a metadata column of the dataset. Its metadata columns "
                        f"are: {', '.join(metadata)}. Example: --sensitive-col {metadata[0]}.")
    names = group_names(train_frame[col])
    others = [c for c in metadata if c != col]
    instead = f" ({', '.join(others)})" if others else ""
    if len(names) < 2:
        raise UserError(f"--sensitive-col '{col}' has a single value ('{names[0] if names else MISSING}') in the "
                        f"training split, so there are no groups to balance. Choose a column with two or more "
                        f"groups{instead}.")
    if len(names) > MAX_GROUPS:
        raise UserError(f"--sensitive-col '{col}' has {len(names)} distinct values in the training split; a "
                        f"mitigation needs at most {MAX_GROUPS} groups to see several rows of each in a batch. "
                        f"Bin it into fewer groups in your --data file (e.g. age bands), or choose another "
                        f"column{instead}.")


def with_group_codes(config: TrainConfig, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies of `frames` (a "train" one among them) with `GROUP_COL` added; unchanged without --sensitive-col.

    The sensitive column itself stays as it is: the codes are a second, integer column that a batch can carry.
    """
    if config.sensitive_col is None:
        return frames
    check_sensitive_col(config, frames["train"])
    names = group_names(frames["train"][config.sensitive_col])
    return {split: frame.assign(**{GROUP_COL: group_codes(frame[config.sensitive_col], names)})
            for split, frame in frames.items()}
