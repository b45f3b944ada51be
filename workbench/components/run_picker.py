"""Choosing a finished run of one task: from the page URL's `run` query parameter, else a selectbox."""

from __future__ import annotations

import streamlit as st

from components.run_table import load_runs


def finished_run(page: str, task: str = "classification") -> str:
    """The chosen run id, kept in the URL (`<page>?run=RUN`); stops the page when no run of `task` has finished."""
    finished = [r["run_id"] for r in load_runs() if r["status"] == "finished" and r["task"] == task]
    if not finished:
        what = {"ner": "NER", "sft": "instruction-tuned (sft)"}.get(task, task)
        hint = {"ner": " (choose the ner task and the wnut16 dataset)",
                "sft": " (choose the sft task and the smollm2-135m model)"}.get(task, "")
        st.info(f"No finished {what} run yet. Train one on the Train page{hint}.")
        st.page_link("views/train.py", label="Go to Train", icon=":material/rocket_launch:")
        st.stop()
    wanted = st.query_params.get("run")
    if wanted and wanted not in finished:
        st.error(f"Run '{wanted}' is unknown or not finished. Pick a finished run below.")
    run_id = st.selectbox("Run", finished, index=finished.index(wanted) if wanted in finished else 0,
                          key=f"{page}.run")
    st.query_params["run"] = run_id
    return run_id
