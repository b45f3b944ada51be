"""The Train page's augmentation choice, above the form because it changes what the page shows: which augmenters,
how often, and a preview of a few training texts of the chosen data as training would augment them.

The augmenters, the preview and every check are `ftlab.augment`'s; a mistake is shown inline as the library words it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from components.config_form import DataChoice
from ftlab.config import TrainConfig, field_docs
from ftlab.errors import UserError

FIELDS = ("augment", "augment_prob", "augment_translation_models")
"""The `TrainConfig` fields chosen here (so the form below leaves them out)."""
PREVIEW_ROWS = 5


@st.cache_data(show_spinner="Augmenting a few training texts...", max_entries=16)
def _preview(data: dict[str, Any], augment: dict[str, Any], model: str, seed: int) -> pd.DataFrame:
    from ftlab.augment import preview, training_texts

    config = TrainConfig(**data, **augment, model=model, seed=seed)
    return preview(training_texts(config, PREVIEW_ROWS), config, PREVIEW_ROWS)


def augmentation_choice(data: DataChoice) -> dict[str, Any]:
    """The augmentation values for the config ({} for none), after a preview of what they do to the data."""
    from ftlab.augment import list_augmenters

    docs = field_docs(TrainConfig)
    specs = {spec.name: spec for spec in list_augmenters()}
    names = st.multiselect("Augmentation", list(specs), key="train.augment", placeholder="none",
                           help=f"{docs['augment']} (`--augment`)")
    if not names:
        return {}
    left, right = st.columns(2)
    values: dict[str, Any] = {"augment": ",".join(names)}
    values["augment_prob"] = left.number_input("Augment prob", value=TrainConfig.augment_prob, step=0.05,
                                               format="%g", help=f"{docs['augment_prob']} (`--augment-prob`)",
                                               key="train.augment_prob")
    if "backtranslation" in names:
        models = right.text_input("Translation models", placeholder="TO_PIVOT,BACK",
                                  help=f"{docs['augment_translation_models']} (`--augment-translation-models`)",
                                  key="train.augment_translation_models")
        values["augment_translation_models"] = models.strip() or None
    for name in names:
        st.caption(f"**{name}**: {specs[name].description}")
    if data.error or data.values.get("task") != "classification":
        if not data.error:
            st.info("Augmentation is for classification data: entity tags would need tag-aware augmentation.")
        return values
    # The form's model and seed as last launched (their widgets sit in the form below, which reruns nothing).
    model = st.session_state.get("train.model") or TrainConfig.model
    seed = st.session_state.get("train.seed", TrainConfig.seed)
    try:
        frame = _preview(data.values, values, model, TrainConfig.seed if seed is None else int(seed))
    except UserError as exc:
        st.error(str(exc))
        return values
    st.caption(f"{len(frame)} training texts, each augmented here. In training, each example is augmented with "
               f"probability {values['augment_prob']:g} every time it is batched; evaluation sees the texts unchanged.")
    st.dataframe(frame, hide_index=True)
    return values
