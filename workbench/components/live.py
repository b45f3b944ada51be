"""The live run panel: curves, progress and log tail, refreshed by `st.fragment(run_every=...)` while a job runs.

Only this fragment reruns each tick; the rest of the page (and its widgets) stays as it is.
"""

from __future__ import annotations

import streamlit as st

from ftlab.curves import LiveSnapshot, live_snapshot
from ftlab.errors import UserError

from components.charts import curves_figure

ACTIVE = ("queued", "running")
REFRESH_SECONDS = 2.0


def live_panel(run_id: str, status: str) -> None:
    """Draw the panel; it ticks every REFRESH_SECONDS while the run is queued or running, and not after."""

    @st.fragment(run_every=REFRESH_SECONDS if status in ACTIVE else None)
    def panel() -> None:
        snapshot = live_snapshot(run_id)
        if snapshot.status != status:
            st.rerun()  # the run changed state: redraw the whole page (buttons, and stop ticking once it ends)
        _progress(snapshot)
        _charts(snapshot)
        with st.expander("Job log (last lines)", expanded=status in ACTIVE):
            st.code(snapshot.log_tail or "(no output yet)", language=None)

    panel()


def _progress(snapshot: LiveSnapshot) -> None:
    progress = snapshot.progress
    total = progress.total_steps
    st.progress(progress.fraction, text=f"step {progress.step} / {total if total else '?'}")
    columns = st.columns(4)
    columns[0].metric("Status", snapshot.status)
    columns[1].metric("ETA", _duration(progress.eta_seconds) if snapshot.status == "running" else "–")
    columns[2].metric("Samples/s", f"{progress.samples_per_second:.1f}" if progress.samples_per_second else "–")
    columns[3].metric("Steps/s", f"{progress.steps_per_second:.2f}" if progress.steps_per_second else "–")
    if snapshot.error:
        st.error(snapshot.error)


def _charts(snapshot: LiveSnapshot) -> None:
    curves = snapshot.curves
    if curves.empty:
        st.info("No metrics logged yet: the job is loading the model and data." if snapshot.status in ACTIVE
                else "This run logged no metrics.")
        return
    smoothing = st.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key=f"smoothing-{snapshot.run_id}",
                          help="Exponential moving average of the curves (TensorBoard style); raw points stay faint.")
    loss = curves[curves["metric"].isin(["loss", "eval_loss"])]
    left, right = st.columns(2)
    with left:
        st.plotly_chart(curves_figure(loss, smoothing=smoothing, title="Loss (train and eval)"),
                        key=f"loss-{snapshot.run_id}")
        train_loss = loss[loss["metric"] == "loss"]
        if len(train_loss):
            st.caption(f"loss: {len(train_loss)} points, steps {train_loss['step'].min()}–{train_loss['step'].max()}")
    with right:
        evals = curves[curves["metric"].isin(snapshot.eval_metrics)]
        if len(evals):
            st.plotly_chart(curves_figure(evals, title="Eval metrics"), key=f"eval-{snapshot.run_id}")
        lr = curves[curves["metric"] == "learning_rate"]
        if len(lr):
            st.plotly_chart(curves_figure(lr, title="Learning rate", height=220), key=f"lr-{snapshot.run_id}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def job_controls(run_id: str, status: str) -> None:
    """Stop (graceful: checkpoint, then "cancelled") and Resume (from that checkpoint, through the job queue)."""
    from ftlab import jobs

    left, right, _ = st.columns([1, 1, 4])
    try:
        if left.button("Stop", disabled=status not in ACTIVE, key="stop",
                       help="Stops at the end of the current step, after writing a checkpoint."):
            outcome = jobs.cancel(run_id)
            st.toast(f"{run_id}: {'stopping after this step' if outcome == 'stopping' else outcome}")
        if right.button("Resume", disabled=status not in ("cancelled", "failed"), key="resume",
                        help="Continues from the last checkpoint, optimizer state included, in the job queue."):
            jobs.submit_resume(run_id)
            st.rerun()
    except UserError as exc:
        st.error(str(exc))
