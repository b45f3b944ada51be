"""Explain: why did a run predict that? SHAP, LIME and integrated gradients side by side, with trust scores."""

import streamlit as st

import ftlab
from ftlab.errors import UserError
from ftlab.explain import EXPLAINERS, ClassifierFn, explain
from ftlab.explain.global_view import explainer, global_view

from components import cancellable
from components.attribution_view import side_by_side, trust_tables
from components.example_picker import pick_example


@st.cache_resource(max_entries=4, show_spinner="Loading the run's model…")
def classifier(run_id: str) -> ClassifierFn:
    return ClassifierFn.from_run(run_id)


st.title("Explain")
finished = [r["run_id"] for r in ftlab.list_runs() if r["status"] == "finished" and r["task"] == "classification"]
if not finished:
    st.info("No finished classification run yet. Train one on the Train page.")
    st.stop()
wanted = st.query_params.get("run")
if wanted and wanted not in finished:
    st.error(f"Run '{wanted}' is unknown or not finished. Pick a finished run below.")
run_id = st.selectbox("Run", finished, index=finished.index(wanted) if wanted in finished else 0)
st.query_params["run"] = run_id
if run_id != wanted:
    st.query_params.pop("example", None)  # a linked example belongs to the linked run

text = pick_example(run_id, st.query_params.get("example"))
fn = classifier(run_id)
with st.expander("Settings"):
    methods = st.multiselect("Methods", list(EXPLAINERS), default=list(EXPLAINERS))
    target = st.selectbox("Class to explain", ["predicted class", *fn.labels])
    left, middle, right = st.columns(3)
    shap_evals = left.number_input("SHAP evaluations", 10, 5000, 300, 50)
    lime_samples = middle.number_input("LIME samples", 50, 10000, 1000, 100)
    ig_steps = right.number_input("IG steps", 2, 500, 50, 10)
    fast = st.toggle("Fast copy of the model", help="int8 for SHAP and LIME on a CPU, bf16 for integrated gradients "
                     "where the hardware has fast bf16; used for a text only where its probabilities agree with the "
                     "full model's within 0.01. The trust scores always score the full model.")

settings = {"shap_max_evals": int(shap_evals), "lime_samples": int(lime_samples), "ig_steps": int(ig_steps),
            "fast": fast}
chosen_target = None if target == "predicted class" else target
if st.button("Explain", type="primary", disabled=not methods):
    bar = cancellable.start("explanation", "Explaining…")
    try:
        [st.session_state["explanation"]] = explain(
            fn, text, tuple(methods), chosen_target, **settings,
            progress=lambda done, what: bar.progress(done, text=f"{what}…"))
        bar.empty()
        st.rerun()  # drop the Cancel button
    except UserError as exc:
        bar.empty()
        st.error(str(exc))
cancellable.notice("explanation", "Explanation cancelled. Methods that had finished are cached: Explain again "
                                  "picks up from there.")
shown = st.session_state.get("explanation")
if shown is not None and shown.run_id == run_id:
    probabilities = ", ".join(f"{label} {p:.3f}" for label, p in shown.prediction["probabilities"].items())
    st.subheader(f"Predicted: {shown.prediction['label']}")
    st.caption(f"{probabilities} · explaining the probability of **{shown.target}** · red words push it up, "
               "blue words push it down")
    if shown.truncated:
        st.warning("The text is longer than the model reads; words past that point get no attribution.")
    side_by_side(shown)
    trust_tables(shown.trust)

st.divider()
st.subheader("Global view")
count = st.number_input("Test texts to explain (integrated gradients, 4 steps)", 20, 2000, 200, 20)
if st.button("Compute the global view"):
    bar = cancellable.start("global view", "Explaining test texts…")
    st.session_state["global_view"] = global_view(
        run_id, explainer(fn, "ig", ig_steps=4), n=int(count), batch_size=10,
        progress=lambda done, total: bar.progress(done / total, text=f"{done} / {total} texts"))
    st.rerun()
cancellable.notice("global view", "Global view cancelled. Texts explained so far are cached: computing it again "
                                  "picks up from there.")
view = st.session_state.get("global_view")
if view is not None and view.run_id == run_id:
    st.caption(f"{view.coverage} test texts: {view.texts_per_class}")
    st.plotly_chart(view.figure())
