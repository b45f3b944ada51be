"""Compare: overlay the curves of N runs, diff their configs, weigh what each method cost against what it reached."""

from typing import Any

import streamlit as st

from components.charts import curves_figure
from components.cost_frontier import cost_section
from components.fairness_compare import fairness_section
from components.run_table import load_runs, store_stamp
from ftlab import compare
from ftlab.errors import UserError

NUMBERS = {"trainable_params": ("trainable params", "localized"), "trainable_pct": ("% trainable", "%.2f%%"),
           "wall_seconds": ("wall s", "%.1f"), "train_samples_per_s": ("train samples/s", "%.1f"),
           "peak_rss_mb": ("peak RSS MB", "%.0f"), "peak_cuda_mb": ("peak GPU MB", "%.0f")}


@st.cache_data(ttl=30, show_spinner=False)
def cached(name: str, stamp: tuple, *args: Any, **kwargs: Any) -> Any:
    """`compare.<name>(...)` once per store state (store_stamp): a new point or run shows at the next rerun."""
    return getattr(compare, name)(*args, **kwargs)


st.title("Compare runs")
known = [r["run_id"] for r in load_runs()]
asked = [r for r in st.query_params.get("runs", "").split(",") if r]
if missing := [r for r in asked if r not in known]:
    st.warning(f"Not in the tracking store (deleted?): {', '.join(missing)}")
ids = tuple(st.multiselect("Runs", known, default=[r for r in asked if r in known], key="compare_runs",
                           placeholder="Pick two or more runs"))
if not ids:
    st.query_params.pop("runs", None)
    st.info("Pick runs to compare (or open `compare?runs=RUN1,RUN2`).")
    st.stop()
st.query_params["runs"] = ",".join(ids)  # the URL shares this comparison

stamp = store_stamp()
try:
    left, middle, right = st.columns(3)
    metric = left.selectbox("Metric", cached("curve_metrics", stamp, ids), key="compare_metric")
    x = middle.radio("x axis", compare.X_AXES, horizontal=True, key="compare_x",
                     format_func={"step": "step", "wall": "wall time (s)"}.get)
    weight = right.slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="compare_smoothing",
                          help="Exponential moving average, as in TensorBoard; 0 shows the raw values")
    frame = cached("overlay_curves", stamp, ids, metric, x) if metric else None
    if frame is None or frame.empty:
        st.info(f"None of these runs logged {metric or 'any curve'} yet.")
    else:
        axis = "step" if x == "step" else "seconds"  # the chart component's names for the two axes
        st.plotly_chart(curves_figure(frame.rename(columns={"x": axis}), series="run_id", x=axis,
                                      smoothing=weight, title=metric, height=420), key="compare_chart")

    st.subheader("Cost and quality")
    st.dataframe(cached("cost_quality", stamp, ids), hide_index=True,
                 column_config={k: st.column_config.NumberColumn(name, format=f) for k, (name, f) in NUMBERS.items()})
    st.subheader("Config differences")
    everything = st.toggle("Show every field", key="compare_all_fields")
    diff = cached("config_diff", stamp, ids, all_fields=everything)
    if diff.empty:
        st.caption("The configs are the same in every field.")
    else:
        st.dataframe(diff.astype(str))  # mixed types per column: shown as text
except UserError as exc:
    st.error(str(exc))

cost_section(ids, stamp)
fairness_section(ids)
