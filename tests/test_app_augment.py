"""The Train page's augmentation choice (AppTest): picking augmenters previews a few training texts of the chosen
data beside their augmented versions; the choice reaches the launched config; mistakes are inline and start nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import open_page

from components.config_form import DataChoice, FormResult, build_config


def _preview(at) -> pd.DataFrame:
    frames = [frame.value for frame in at.dataframe if "augmented" in frame.value.columns]
    assert len(frames) == 1, "no augmentation preview on the page"
    return frames[0]


def test_choosing_augmenters_previews_augmented_training_texts(fresh_home: Path) -> None:
    at = open_page("train")
    assert not [frame for frame in at.dataframe if "augmented" in frame.value.columns]  # none chosen: no preview

    at.multiselect(key="train.augment").select("typos").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = _preview(at)
    assert len(table) == 5 and set(table["augmenter"]) == {"typos"}
    assert (table["original"] != table["augmented"]).all()
    assert any("augmented with probability 0.3" in caption.value for caption in at.caption)

    at.multiselect(key="train.augment").select("synonyms").run()
    both = _preview(at)
    assert list(both["original"]) == list(table["original"])  # the same training texts, another augmentation
    assert set(both["augmenter"]) <= {"typos", "synonyms"} and (both["original"] != both["augmented"]).all()


def test_augmentation_mistakes_are_inline_and_launch_nothing(fresh_home: Path) -> None:
    at = open_page("train")
    at.multiselect(key="train.augment").select("backtranslation").run()
    assert any("--augment-translation-models" in e.value for e in at.error)  # the preview says what is missing
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert sum("--augment-translation-models" in e.value for e in at.error) == 2  # and so does the launch
    assert not any((fresh_home / "runs").glob("*"))


def test_ner_data_gets_no_preview(fresh_home: Path) -> None:
    at = open_page("train")
    at.selectbox(key="train.dataset").select("wnut16").run()
    at.multiselect(key="train.augment").select("typos").run()
    assert any("classification" in info.value for info in at.info)
    assert not [frame for frame in at.dataframe if "augmented" in frame.value.columns]


def test_the_choice_reaches_the_config() -> None:
    data = DataChoice({"dataset": "rotten_tomatoes", "task": "classification"})
    config = build_config(data, FormResult(submitted=True, method="full"),
                          {"augment": "typos,synonyms", "augment_prob": 0.5})
    assert (config.augment, config.augment_prob) == ("typos,synonyms", 0.5)
