"""Runs: every run in the tracking store, filtered and sorted; delete one after a confirmation."""

import streamlit as st

from components.run_table import COLUMNS, filtered_sorted, load_runs, runs_frame
from ftlab.errors import UserError
from ftlab.runs import delete_run


def _delete(run_id: str | None) -> None:
    """Runs before the page script (a button callback), so the table below no longer lists the deleted run."""
    if not run_id or not st.session_state.get("runs_delete_sure"):
        st.session_state.runs_delete_message = ("error", "Pick a run and tick the confirmation box first.")
        return
    try:
        delete_run(run_id)
        st.session_state.runs_delete_message = ("success", f"Deleted run {run_id}.")
        st.session_state.runs_delete_sure = False  # the next deletion asks again
    except UserError as exc:
        st.session_state.runs_delete_message = ("error", str(exc))


st.title("Runs")
records = load_runs()
if not records:
    st.info("No runs yet: start one on the Train page or with `ftlab train`.")
    st.stop()

frame = runs_frame(records)
shown = filtered_sorted(frame)
st.caption(f"{len(shown)} of {len(frame)} runs. Click a run to open it; sort by clicking a column header too.")
st.dataframe(shown, column_order=list(COLUMNS), column_config=COLUMNS, hide_index=True)
if 2 <= len(shown) <= 10:
    st.page_link("views/compare.py", label=f"Compare these {len(shown)} runs", icon=":material/compare_arrows:",
                 query_params={"runs": ",".join(shown["run_id"])})

with st.expander("Delete a run", expanded="runs_delete_message" in st.session_state):
    victim = st.selectbox("Run to delete", shown["run_id"], index=None, key="runs_delete_pick",
                          placeholder="Choose a run")
    sure = st.checkbox("I understand: its checkpoints, model, predictions and metrics are removed for good",
                       key="runs_delete_sure")
    st.button("Delete run", type="primary", disabled=not (victim and sure), on_click=_delete, args=(victim,),
              key="runs_delete")
    kind, text = st.session_state.pop("runs_delete_message", (None, None))
    if kind == "error":
        st.error(text)
    elif kind == "success":
        st.success(text)
