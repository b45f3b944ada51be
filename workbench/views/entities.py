"""Entities: what an NER run finds and misses on its test split: predictions on your own text, the per-type report,
which entity types it confuses, and its worst sentences."""

import html

import pandas as pd
import streamlit as st

import ftlab
from ftlab.analysis import confusion_sentences, type_confusion, type_confusion_figure, type_report, worst_sentences
from ftlab.errors import UserError
from ftlab.evaluate import predict
from ftlab.explain.entity import EntityExplanation, explain_entity

from components.attribution_view import coloured_words
from components.entity_view import colour_of, sentence_rows
from components.run_picker import finished_run


@st.cache_data(max_entries=32, show_spinner="Integrated gradients over the words…")
def entity_explanation(run_id: str, text: str, entity: int) -> EntityExplanation:
    return explain_entity(run_id, text, entity)


@st.cache_data(max_entries=8, show_spinner="Scoring the test split…")
def test_predictions(run_id: str) -> tuple[pd.DataFrame, dict[str, float]]:
    return ftlab.predictions(run_id, "test")


st.title("Entities")
run_id = finished_run("entities", task="ner")
table, metrics = test_predictions(run_id)
missed, wrong = int(table["entities_missed"].sum()), int(table["entities_wrong"].sum())
st.caption(f"{len(table):,} test sentences · entity micro-F1 {metrics['micro_f1']:.3f} · "
           f"{int(table['entities_found'].sum()):,} entities found, {missed:,} missed, {wrong:,} wrong")

text = st.text_input("Find the entities in a text", "Justin Bieber flew from New York to Paris with Apple people",
                     key="entities.text")
if text.strip():
    try:
        [result] = predict(run_id, [text])
    except UserError as exc:
        st.error(str(exc))
    else:
        found = result["entities"]
        st.html("".join(f'<span style="background:{colour_of(e["type"])};padding:1px 4px;margin:2px;'
                        f'border-radius:4px">{html.escape(e["text"])} <sup>{html.escape(e["type"])} '
                        f'{e["score"]:.2f}</sup></span>' for e in found) or "<i>no entities found</i>")
        if found:
            names = [f"{e['text']} ({e['type']})" for e in found]
            chosen = st.selectbox("Explain an entity (integrated gradients over the words)", range(len(found)),
                                  format_func=names.__getitem__, key="entities.explain")
            if st.button("Explain", key="entities.explain_button"):
                try:
                    shown = entity_explanation(run_id, text, int(chosen))
                except UserError as exc:
                    st.error(str(exc))
                else:
                    st.html(coloured_words(shown.words, shown.attributions))
                    st.caption(f"red words raise the probability of {shown.entity['text']!r} being tagged "
                               f"{shown.entity['type']}, blue words lower it · convergence delta {shown.delta:.1e}")

report_tab, confusion_tab, worst_tab = st.tabs(["Per-type report", "Type confusion", "Worst sentences"])
with report_tab:
    numbers = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("precision", "recall", "f1")}
    st.dataframe(type_report(metrics), column_config=numbers, key="entities.report")
    st.caption("Entity-level scores (seqeval, strict IOB2): an entity counts only when its type and both ends match.")
with confusion_tab:
    st.plotly_chart(type_confusion_figure(table), key="entities.confusion")
    counts = type_confusion(table)
    kinds = [str(kind) for kind in counts.index]
    off_diagonal = [(counts.loc[g, p], g, p) for g in kinds for p in kinds if g != p]
    _, top_gold, top_predicted = max(off_diagonal)
    left, right = st.columns(2)
    gold = left.selectbox("Gold", kinds, index=kinds.index(top_gold), key="entities.gold")
    predicted = right.selectbox("Predicted", kinds, index=kinds.index(top_predicted), key="entities.predicted")
    sentence_rows(confusion_sentences(table, gold, predicted))
with worst_tab:
    n = st.number_input("Sentences to list", 1, 200, 10, 5, key="entities.n")
    sentence_rows(worst_sentences(table, int(n)), limit=int(n))
