"""The job queue panel: what runs, what waits, and how many jobs may run at once (saved in the home's queue)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from ftlab import jobs
from ftlab.errors import UserError


@st.fragment(run_every=5)
def job_queue() -> None:
    """Running and queued jobs, refreshed every few seconds without rerunning the page."""
    st.subheader("Job queue")
    left, right = st.columns([1, 3])
    current = jobs.concurrency()
    wanted = left.number_input("Jobs at once", min_value=1, max_value=64, value=current, step=1, key="queue.concurrency",
                               help="How many jobs train at the same time. On a CPU one is fastest in total; with "
                                    "GPUs, one per GPU. Saved for the CLI's queue too (`ftlab jobs --concurrency`).")
    if wanted != current:
        try:
            jobs.set_concurrency(int(wanted))
        except UserError as exc:
            st.error(str(exc))
    right.caption(f"Up to {jobs.concurrency()} job(s) run at once; the others wait in this order. Jobs go on when "
                  "this app is closed.")
    table = jobs.list_jobs()
    if not table:
        st.caption("No job is running or queued.")
        return
    frame = pd.DataFrame(table)[["run_id", "status", "position", "gpu", "submitted"]]
    frame["submitted"] = [datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "" for t in
                          frame["submitted"]]
    st.dataframe(frame, hide_index=True)
