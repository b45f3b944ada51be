"""Choosing a finished classification run: from the page URL's `run` query parameter, else a selectbox."""

from __future__ import annotations

import streamlit as st

from components.run_table import load_runs


def finished_run(page: str) -> str:
    """The chosen run id, kept in the URL (`<page>?run=RUN`); stops the page when no run has finished yet."""
    finished = [r["run_id"] for r in load_runs() if r["status"] == "finished" and r["task"] == "classification"]
    if not finished:
        st.info("No finished classification run yet. Train one on the Train page.")
        st.page_link("views/train.py", label="Go to Train", icon=":material/rocket_launch:")
        st.stop()
    wanted = st.query_params.get("run")
    if wanted and wanted not in finished:
        st.error(f"Run '{wanted}' is unknown or not finished. Pick a finished run below.")
    run_id = st.selectbox("Run", finished, index=finished.index(wanted) if wanted in finished else 0,
                          key=f"{page}.run")
    st.query_params["run"] = run_id
    return run_id
