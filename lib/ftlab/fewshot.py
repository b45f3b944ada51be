"""Few-shot learning curves: train each method on k examples per class, for several k and seeds, and plot test
accuracy against k with its spread across seeds (the seeds' "few-shot" claim, measured).

Each point is a real `ftlab.train` run, tracked like any other (named `<prefix>-<method>-k<k>-s<seed>`), so
the Runs and Compare pages show them too; a run that already finished is reused, not trained again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ftlab.config import TrainConfig
from ftlab.errors import UserError

DEFAULT_KS = (8, 16, 32, 64)
DEFAULT_SEEDS = (0, 1, 2)


def curve_run_name(prefix: str, method: str, k: int, seed: int) -> str:
    return f"{prefix}-{method.replace('_', '-')}-k{k}-s{seed}"


def learning_curve(base: TrainConfig, methods: Sequence[str], *, ks: Sequence[int] = DEFAULT_KS,
                   seeds: Sequence[int] = DEFAULT_SEEDS, prefix: str = "fewshot",
                   on_result: Callable[[dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """One row per (method, k, seed): test accuracy and macro-F1, wall time, trainable parameters, run id.

    `base` sets everything else (dataset, model, --max-steps, --test-size...); its method, seed, name and
    --shots-per-class are replaced per point. Each method uses its own recommended learning rate unless `base`
    sets one.
    """
    from ftlab.records import summary
    from ftlab.runs import read_config, run_dir
    from ftlab.train import load_splits, plan, train

    if not methods or not ks or not seeds:
        raise UserError("A learning curve needs at least one method, one k and one seed, e.g. methods=['full'], "
                        "ks=[8, 16], seeds=[0, 1, 2].")
    if base.task != "classification":
        raise UserError(f"Few-shot curves sample k examples per class, so they are for classification, not "
                        f"'{base.task}'.")
    configs = [TrainConfig.from_dict({**dataclasses.asdict(base), "method": method, "method_options":
                                      base.method_options if method == base.method else {},
                                      "seed": seed, "shots_per_class": k, "train_size": None,
                                      "name": curve_run_name(prefix, method, k, seed)})
               for method in methods for k in ks for seed in seeds]  # every config checked before any training
    for config in configs:
        plan(config)  # method, task, dataset and method options
        if config.method == methods[0] and config.shots_per_class == max(ks):
            load_splits(config)  # a k larger than some class holds is refused now, not after hours of training
    rows = []
    for config in configs:
        done = (run_dir(config.name) / "state.json").is_file() and summary(config.name)["status"] == "finished"
        if done and read_config(config.name).to_dict() != config.to_dict():
            raise UserError(f"Run '{config.name}' already exists with another config (a different budget or base "
                            f"config); pass another prefix (now '{prefix}') to train this curve afresh.")
        record = summary(config.name) if done else train(config)
        metrics = record["metrics"]
        row = {"method": config.method, "k": config.shots_per_class, "seed": config.seed, "run_id": record["run_id"],
               "accuracy": metrics.get("test_accuracy"), "macro_f1": metrics.get("test_macro_f1"),
               "wall_seconds": record.get("wall_seconds"), "trainable_params": metrics.get("trainable_params")}
        rows.append(row)
        if on_result:
            on_result(row)
    return pd.DataFrame(rows)


def curve_summary(points: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean, standard deviation, min and max of `metric` across seeds, per method and k."""
    grouped = points.groupby(["method", "k"], sort=True)[metric]
    return grouped.agg(["mean", "std", "min", "max", "count"]).reset_index()


def curve_figure(points: pd.DataFrame, metric: str = "accuracy"):
    """Plotly: `metric` against k (log scale) per method, mean across seeds with a ±1 std band, seeds as dots."""
    import plotly.graph_objects as go

    table = curve_summary(points, metric)
    figure = go.Figure()
    for method, rows in table.groupby("method", sort=False):
        std = rows["std"].fillna(0)
        figure.add_trace(go.Scatter(x=rows["k"], y=rows["mean"], mode="lines+markers", name=method,
                                    error_y={"type": "data", "array": std, "visible": True}))
        seeds = points[points["method"] == method]
        figure.add_trace(go.Scatter(x=seeds["k"], y=seeds[metric], mode="markers", showlegend=False, opacity=0.35,
                                    marker={"size": 6}, name=f"{method} seeds",
                                    hovertext=seeds["run_id"], hoverinfo="text+y"))
    figure.update_layout(xaxis={"type": "log", "title": "examples per class (k)", "tickvals": sorted(set(points["k"]))},
                         yaxis={"title": f"test {metric}"}, title="Few-shot learning curve (mean ± 1 std over seeds)")
    return figure
