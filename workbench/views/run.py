"""Run detail: one run's live curves and progress, Stop / Resume, final metrics and config."""

import streamlit as st

import ftlab
from ftlab.errors import UserError
from ftlab.runs import read_config

from components.live import job_controls, live_panel

st.title("Run detail")
runs = ftlab.list_runs()
if not runs:
    st.info("No runs yet. Launch one on the Train page.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/rocket_launch:")
    st.stop()

ids = [r["run_id"] for r in runs]
wanted = st.query_params.get("run")
if wanted and wanted not in ids:
    st.error(f"Unknown run '{wanted}': it may have been deleted. Pick one below, or see the Runs page.")
run_id = st.selectbox("Run", ids, index=ids.index(wanted) if wanted in ids else 0)
st.query_params["run"] = run_id

try:
    record = ftlab.summary(run_id)
except UserError as exc:
    st.error(str(exc))
    st.stop()

main = record["main_metric"]
st.subheader(run_id)
counts = record["param_counts"]
trained = f" · {counts['trainable']:,} / {counts['total']:,} params trained" if counts["total"] else ""
st.caption(f"{record['method']} on {record['model']} · {record['dataset']} · {record['task']}{trained}")
job_controls(run_id, record["status"])
if record["task"] == "sft" and record["status"] == "finished":
    st.page_link("views/chat.py", label="Chat with this run", icon=":material/chat:", query_params={"run": run_id})
live_panel(run_id, record["status"])

final, config = st.tabs(["Final metrics", "Config"])
with final:
    if main["value"] is None:
        st.info("Final metrics appear when the run finishes.")
    else:
        st.metric(f"{main['split']} {main['name']}", f"{main['value']:.4f}")
        st.dataframe({k: [v] for k, v in record["metrics"].items() if k.startswith("test_")}, hide_index=True)
with config:
    st.code(read_config(run_id).to_yaml(), language="yaml")
