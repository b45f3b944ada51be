"""Workbench page latency: with 50 finished runs in the store, the Runs and Compare pages render (AppTest) in
under 1 s each. Writes its section of bench/RESULTS.md.

    python bench/app_latency.py              # about 1 min on 2 CPU cores (one tiny training, then copies)
    python bench/app_latency.py --runs 100   # a bigger store

The store is filled by training ONE real tiny run and cloning its tracking record (params, tags, every metric
point) and its run folder (checkpoints left out) under new run ids until the bench home holds `--runs` finished
runs: this measures rendering, not training, and a copy reads exactly like a training's record.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass

from common import BENCH_DIR, machine, use_bench_home, write_section

APP = BENCH_DIR.parent / "workbench" / "app.py"
SOURCE = "app-latency-source"
TARGET_S = 1.0


def source_run() -> str:
    """The one real training this benchmark does (reused by later runs of it)."""
    import ftlab
    from ftlab import runs

    if not runs.state_path(SOURCE).is_file():
        ftlab.train(ftlab.TrainConfig(dataset="rotten_tomatoes", method="lora", train_size=64, eval_size=32,
                                      max_steps=8, eval_steps=2, save_steps=8, log_steps=1, name=SOURCE),
                    progress=False)
    return SOURCE


def clone_run(source: str, new_id: str) -> None:
    """Copy a finished run's tracking record and folder under a new run id (see the module docstring)."""
    from mlflow.entities import Param

    from ftlab import runs, tracking
    from ftlab.config import TrainConfig

    client = tracking.client()
    state = runs.read_state(source)
    original = client.get_run(state.mlflow_run_id)
    tags = {k: new_id if k == tracking.TAG + "run_id" else v for k, v in original.data.tags.items()
            if not k.startswith("mlflow.")}
    copy = client.create_run(tracking.experiment_id(), run_name=new_id, tags=tags)
    params = [Param(k, new_id if k == "name" else v) for k, v in original.data.params.items()]
    points = [m for key in original.data.metrics for m in client.get_metric_history(original.info.run_id, key)]
    for i in range(0, len(params), 100):  # MLflow's per-batch limits
        client.log_batch(copy.info.run_id, params=params[i:i + 100])
    for i in range(0, len(points), 1000):
        client.log_batch(copy.info.run_id, metrics=points[i:i + 1000])
    client.set_terminated(copy.info.run_id, status="FINISHED")

    folder = runs.run_dir(new_id)
    shutil.copytree(runs.run_dir(source), folder, ignore=shutil.ignore_patterns("checkpoints", ".*.tmp"))
    config = TrainConfig.from_yaml((folder / "config.yaml").read_text())
    config.name = new_id
    (folder / "config.yaml").write_text(config.to_yaml())
    runs.write_state(runs.RunState(**{**asdict(state), "run_id": new_id, "mlflow_run_id": copy.info.run_id}))


def fill_store(total: int) -> list[dict]:
    """Clone the source run until the store holds `total` finished runs; returns `ftlab.list_runs()`."""
    import ftlab
    from ftlab import runs

    source = source_run()
    finished = [r for r in ftlab.list_runs() if r["status"] == "finished"]
    n = 0
    while len(finished) < total:
        n += 1
        new_id = f"app-latency-clone-{n:03d}"
        if not runs.run_dir(new_id).exists():
            clone_run(source, new_id)
            finished.append({"run_id": new_id})
    return ftlab.list_runs()


@dataclass
class Timing:
    what: str
    first_ms: float
    cold_ms: float
    warm_ms: float


def time_page(page: str, query: dict[str, str], repeats: int) -> Timing:
    """First render in a new session (empty caches), then reruns with the data caches cleared, then cache hits."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def render(at: AppTest) -> float:
        started = time.perf_counter()
        at.run()
        elapsed = (time.perf_counter() - started) * 1000
        if at.exception or at.error:
            raise SystemExit(f"{page} failed: {[e.value for e in (*at.exception, *at.error)]}")
        return elapsed

    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page(f"views/{page}.py")
    at.query_params.update(query)
    first = render(at)
    cold = []
    for _ in range(repeats):
        st.cache_data.clear()  # as when the TTL has run out or a run was just written
        cold.append(render(at))
    warm = [render(at) for _ in range(repeats)]
    return Timing(page, first, statistics.median(cold), statistics.median(warm))


LIVE_TARGET_MS = 100.0
LONG_POINTS = 3000


def long_run(source: str) -> str:
    """A copy of the source run whose loss and learning-rate curves go on for LONG_POINTS steps (synthetic points,
    written like TrackingCallback writes them), to see how a tick's cost grows with a long run's history."""
    from mlflow.entities import Metric

    from ftlab import runs, tracking

    run_id = "app-latency-long-history"
    if not runs.run_dir(run_id).exists():
        clone_run(source, run_id)
        mlflow_run_id, now = runs.read_state(run_id).mlflow_run_id, int(time.time() * 1000)
        points = [Metric(key, value, now + step * 100, step) for step in range(9, LONG_POINTS + 1)
                  for key, value in (("loss", 0.7 / step ** 0.2), ("learning_rate", 1e-3 * (1 - step / LONG_POINTS)))]
        for i in range(0, len(points), 1000):
            tracking.client().log_batch(mlflow_run_id, metrics=points[i:i + 1000])
    return run_id


def live_tick_ms(run_id: str) -> float:
    """One tick of the Run detail page's live fragment, server side: read the snapshot (status, curves, progress,
    log tail) and build and serialise its three plotly figures, as `st.plotly_chart` does."""
    from components.charts import curves_figure
    from ftlab.curves import live_snapshot

    started = time.perf_counter()
    snapshot = live_snapshot(run_id)
    curves = snapshot.curves
    for frame in (curves[curves["metric"].isin(["loss", "eval_loss"])], curves[curves["metric"].isin(snapshot.eval_metrics)],
                  curves[curves["metric"] == "learning_rate"]):
        curves_figure(frame).to_json()
    return (time.perf_counter() - started) * 1000


def live_tick_note(run_id: str, repeats: int) -> str:
    from ftlab import curves

    live_tick_ms(run_id)  # first tick: imports and the database connection
    ms = statistics.median(live_tick_ms(run_id) for _ in range(repeats * 3))
    points = len(curves.metric_curves(run_id, ["loss"]))
    return (f"Live panel tick (`st.fragment(run_every=2s)` on Run detail), server time for {run_id} with {points} "
            f"loss points: **{ms:.0f} ms** (median of {repeats * 3}), target < {LIVE_TARGET_MS:.0f} ms: "
            f"**{'met' if ms < LIVE_TARGET_MS else 'NOT met'}**.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="finished runs in the store while rendering")
    parser.add_argument("--compare", type=int, default=5, help="runs selected on the Compare page")
    parser.add_argument("--repeats", type=int, default=7, help="renders per median")
    args = parser.parse_args()
    home = use_bench_home()
    sys.path.insert(0, str(APP.parent))  # `streamlit run workbench/app.py` puts the app's folder on the path

    started = time.perf_counter()
    import ftlab
    import plotly.graph_objects  # noqa: F401  (the Compare page's; counted here, not in its first render)

    # Clearing the caches outside a server logs "No runtime found" each time (and AppTest resets log levels).
    logging.getLogger("streamlit.runtime.caching.cache_data_api").disabled = True

    ftlab.list_runs()  # MLflow's first connection checks the database schema
    warmup_s = time.perf_counter() - started
    records = fill_store(args.runs)
    finished = [r for r in records if r["status"] == "finished"]
    # The oldest runs first: in the bench home these are real trainings with their whole curves.
    chosen = [r["run_id"] for r in sorted(finished, key=lambda r: r["started"])[:args.compare]]
    clones = sum(r["run_id"].startswith("app-latency-clone-") for r in records)
    list_ms = statistics.median(_ms(ftlab.list_runs) for _ in range(args.repeats))

    timings = [time_page("runs", {}, args.repeats),
               time_page("compare", {"runs": ",".join(chosen)}, args.repeats)]

    notes = [live_tick_note(source_run(), args.repeats), live_tick_note(long_run(source_run()), args.repeats)]

    rows = "\n".join(f"| {t.what} | {t.first_ms:.0f} | {t.cold_ms:.0f} | {t.warm_ms:.0f} |" for t in timings)
    slowest = max(max(t.first_ms, t.cold_ms) for t in timings)
    body = f"""## Workbench page latency (bench/app_latency.py)

Machine: {machine()}. Store: {len(records)} runs in the tracking store, {len(finished)} finished, {clones} of
them copies of one real tiny LoRA training ({SOURCE}): this measures rendering, not training. Rendered with
Streamlit's AppTest through `workbench/app.py`; Compare with {len(chosen)} runs selected ({', '.join(chosen)}),
loss by step. Process warm-up before any render (imports of ftlab, MLflow, plotly and Streamlit, first database
connection): {warmup_s:.1f} s. `ftlab.list_runs()` alone: {list_ms:.0f} ms (median).

| page | first render in a new session, ms | render with data caches cleared, ms (median of {args.repeats}) | warm rerun, ms (median of {args.repeats}) |
|---|---|---|---|
{rows}

- Slowest first or data-cold render: **{slowest:.0f} ms**, target < {TARGET_S * 1000:.0f} ms:
  **{'met' if slowest < TARGET_S * 1000 else 'NOT met'}**. Warm reruns hit `st.cache_data` (TTL 5 s for the runs
  list, 30 s for Compare's tables, both keyed by the store's modification times).
{chr(10).join(f'- {n}' for n in notes)}
"""
    write_section("app_latency", body)
    print(body)
    print(f"(bench home: {home})")


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
