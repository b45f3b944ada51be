"""What a run cost and what it bought: the cost/value report of every run and the cost-vs-quality frontier.

Everything is read from what the run left behind (tracking store, run folder); nothing is re-run. The figures:

- **tokens seen**: non-padding input tokens of every training batch, counted by the Trainer
  (`include_num_input_tokens_seen="non_padding"`, summed over processes), logged along training as
  `num_input_tokens_seen` and once at the end as `train_tokens`.
- **estimated training FLOPs**, the usual 2-FLOPs-per-weight-per-token accounting (Kaplan et al. 2020), split by
  pass so that it holds for every method, not only full fine-tuning:

      C ≈ 2·N·T (forward) + 2·N_back·T (gradients of activations) + 2·N_train·T (gradients of weights)

  N: weights of the model's matrix multiplications (its Linear layers: embeddings are lookups, not matmuls);
  N_back: those Linear weights whose output needs a gradient, i.e. everything downstream of the first trained
  parameter; N_train: the trained weights outside embedding tables. All three are measured on the model as
  built (a forward pass over a few tokens records which Linear outputs require a gradient), and logged as
  `compute_params`, `compute_backward_params`, `compute_trained_params` when training starts.
  Full fine-tuning: N_back = N_train = N, so C = 6·N·T. LoRA, IA3, adapters, BitFit, prompt and prefix tuning
  train something in the first layer, so N_back ≈ N (only projections of the frozen embeddings that no trained
  weight follows are spared) and C ≈ 4·N·T + 2·N_train·T (N_train ≪ N). Freezing all but the top k of L layers
  stops the backward pass there: C ≈ 2·N·T + 4·(k/L)·N·T. Attention's own score and mixing
  FLOPs (≈ 4·layers·length·d per token) are left out, as in the 6·N·T rule.
- **the seeds' estimate** C = B × D × N per optimizer step (B samples per step, D the dimension of a sample, here
  the --max-length tokens, N all parameters), and C' = K × P × B × D × N on K nodes of P processors. It counts
  one multiply per weight per padded position and pass, so it sits below 6·N·T by the passes (×2 FLOPs per
  multiply-add, ×3 passes) and above it by the padding; notebook 14 compares the two.
- **money**: wall hours × processes × a price per device-hour that the user sets (`--price-per-hour`, or the
  `FTLAB_PRICE_PER_HOUR` variable); unset, no money figure is shown rather than a made-up one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn

from ftlab.errors import UserError

PRICE_ENV = "FTLAB_PRICE_PER_HOUR"
COST_AXES = {"train_flops": "estimated training FLOPs", "wall_seconds": "wall time (s)",
             "money": "money (at the price per device-hour)", "model_mb": "saved model (MB)",
             "trainable_params": "trainable parameters"}
"""Cost columns a frontier can be drawn against, with their axis titles."""


# -- measured when training starts ------------------------------------------------------------------------------

def compute_shape(model: nn.Module, tokenizer: Any) -> dict[str, int]:
    """N, N_back and N_train of the module docstring, measured on the model as it will train."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    needs_grad: set[int] = set()
    hooks = [m.register_forward_hook(lambda mod, _in, out: needs_grad.add(id(mod)) if _requires_grad(out) else None)
             for m in linears]
    was_training = model.training
    try:
        model.eval()  # dropout off; the probe's outputs are thrown away
        probe = tokenizer(["a short probe"], return_tensors="pt")
        device = next(model.parameters()).device
        model(**{k: v.to(device) for k, v in probe.items()})
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    embedding_params = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return {
        "compute_params": sum(m.weight.numel() for m in linears),
        "compute_backward_params": sum(m.weight.numel() for m in linears if id(m) in needs_grad),
        "compute_trained_params": sum(p.numel() for p in model.parameters()
                                      if p.requires_grad and id(p) not in embedding_params),
    }


def _requires_grad(output: Any) -> bool:
    tensor = output[0] if isinstance(output, tuple) else output
    return isinstance(tensor, torch.Tensor) and tensor.requires_grad


# -- the report ---------------------------------------------------------------------------------------------------

def price_per_hour(given: float | None = None) -> float | None:
    """The price per device-hour: the argument, else $FTLAB_PRICE_PER_HOUR, else None (no money figure)."""
    if given is None:
        text = os.environ.get(PRICE_ENV, "").strip()
        if not text:
            return None
        try:
            given = float(text)
        except ValueError:
            raise UserError(f"{PRICE_ENV}={text!r} is not a number; set it to a price per device-hour, e.g. 2.5, "
                            "or unset it.") from None
    if not math.isfinite(given) or given < 0:
        raise UserError(f"--price-per-hour must be a price of 0 or more per device-hour, got {given!r}; e.g. 2.5.")
    return float(given)


def training_flops(metrics: dict[str, float]) -> float | None:
    """C = 2·N·T + 2·N_back·T + 2·N_train·T from a run's logged metrics; None for a run that predates them."""
    needed = ("compute_params", "compute_backward_params", "compute_trained_params", "train_tokens")
    if any(metrics.get(k) is None for k in needed):
        return None
    tokens = metrics["train_tokens"]
    return 2 * tokens * (metrics["compute_params"] + metrics["compute_backward_params"]
                         + metrics["compute_trained_params"])


def flops_formula(metrics: dict[str, float]) -> str:
    """The estimate in the words of this run: which multiple of N·T it came to, and why."""
    n, back, trained = (metrics.get(k) for k in ("compute_params", "compute_backward_params",
                                                 "compute_trained_params"))
    if not n:
        return "not measured (the run predates FLOPs accounting)"
    multiple = 2 + 2 * back / n + 2 * trained / n
    return (f"2·N·T + 2·N_back·T + 2·N_train·T = {multiple:.2f}·N·T (N_back = {back / n:.0%} of N, "
            f"N_train = {trained / n:.1%} of N)")


def cost_report(run_id: str, *, price: float | None = None) -> dict[str, Any]:
    """One run's cost and value: parameters, tokens, FLOPs (ours and the seeds'), time, memory, size, money."""
    from ftlab import runs, tracking
    from ftlab.records import summary

    record = summary(run_id)
    metrics, counts = record["metrics"], record["param_counts"]
    config = runs.read_config(run_id)
    tags = _tags(record)
    ends = tracking.metric_histories(record["mlflow_run_id"], ["final_train_loss"])["final_train_loss"]
    steps = int(ends[-1][0]) if ends else None  # logged at the last step done, which a cancel or early stop cuts
    samples_per_step = int(tags.get("samples_per_step") or config.batch_size)
    processes = int(tags.get("world_size") or 1)
    wall = record["wall_seconds"]
    flops = training_flops(metrics)
    price = price_per_hour(price)
    seeds_per_step = samples_per_step * config.max_length * counts["total"] if counts["total"] else None
    report = {
        "run_id": record["run_id"], "status": record["status"], "method": record["method"],
        "model": record["model"], "main_metric": record["main_metric"],
        "trainable_params": counts["trainable"] or None, "total_params": counts["total"] or None,
        "tokens_seen": metrics.get("train_tokens"), "steps": steps, "samples_per_step": samples_per_step,
        "processes": processes,
        "train_flops": flops, "flops_formula": flops_formula(metrics),
        "transformers_flos": metrics.get("total_flos"),
        "seeds_flops_per_step": seeds_per_step,
        "seeds_flops": seeds_per_step * steps if seeds_per_step and steps else None,
        "seeds_formula": (f"C = B × D × N = {samples_per_step} × {config.max_length} × {counts['total']:,} per step"
                          + ("; C' = K × P × B × D × N with K × P = " + str(processes) if processes > 1 else "")),
        "wall_seconds": wall, "train_samples_per_s": record["train_samples_per_second"],
        "peak_rss_mb": metrics.get("peak_rss_mb"), "peak_cuda_mb": metrics.get("peak_cuda_mb"),
        "model_mb": runs.model_size_mb(run_id),
        "price_per_device_hour": price,
        "money": price * processes * wall / 3600 if price is not None and wall else None,
    }
    return report


def _tags(record: dict[str, Any]) -> dict[str, str]:
    from ftlab import tracking

    tags = tracking.client().get_run(record["mlflow_run_id"]).data.tags
    return {k[len(tracking.TAG):]: v for k, v in tags.items() if k.startswith(tracking.TAG)}


def cost_table(run_ids: Sequence[str], *, price: float | None = None) -> pd.DataFrame:
    """`cost_report` of several runs, one row each, with the main metric's value as `quality` and a column
    `on_frontier` per cost axis (see `pareto_front`)."""
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    rows = []
    for run_id in dict.fromkeys(run_ids):
        report = cost_report(run_id, price=price)
        main = report.pop("main_metric")
        report["quality_metric"] = f"{main['split']} {main['name']}" if main["split"] else main["name"]
        report["quality"] = main["value"]
        rows.append(report | _higher_is_better_quality(run_id))
    return pd.DataFrame(rows)


def _higher_is_better_quality(run_id: str) -> dict[str, Any]:
    """A task whose main metric falls as it improves (an sft run's perplexity) is placed on the frontier by its
    first higher-is-better test score instead (exact match of its answers, else token accuracy)."""
    from ftlab.records import summary
    from ftlab.tasks import get_task

    record = summary(run_id)
    task = get_task(record["task"])
    if task.greater_is_better:
        return {}
    for name in task.quality_metrics:
        if (value := record["metrics"].get(f"test_{name}")) is not None:
            return {"quality_metric": f"test {name}", "quality": value}
    return {"quality": None}


def pareto_front(table: pd.DataFrame, cost: str, quality: str = "quality") -> pd.Series:
    """True for the runs no other run beats on both axes: at most the cost and at least the quality, better on one.

    Quality is higher-is-better (accuracy, F1). Runs missing either value are never on the front."""
    if cost not in table.columns:
        raise UserError(f"Unknown cost axis {cost!r}; use one of {', '.join(COST_AXES)}.")
    known = table[[cost, quality]].notna().all(axis=1)
    values = table.loc[known, [cost, quality]].astype(float)
    front = pd.Series(False, index=table.index)
    for index, (c, q) in values.iterrows():
        dominated = ((values[cost] <= c) & (values[quality] >= q) & ((values[cost] < c) | (values[quality] > q)))
        front[index] = not dominated.any()
    return front


def frontier_figure(table: pd.DataFrame, cost: str = "train_flops", quality: str = "quality"):
    """Plotly: quality against one cost axis (log scale), each run a labelled point, the frontier joined up."""
    import plotly.graph_objects as go

    front = pareto_front(table, cost, quality)
    shown = table[table[[cost, quality]].notna().all(axis=1)]
    figure = go.Figure(go.Scatter(
        x=shown[cost], y=shown[quality], mode="markers+text", text=shown["method"], textposition="top center",
        hovertext=shown["run_id"], hoverinfo="text+x+y", name="runs",
        marker={"size": 10, "color": ["#d62728" if front[i] else "#1f77b4" for i in shown.index]}))
    line = shown[front[shown.index]].sort_values(cost)
    figure.add_trace(go.Scatter(x=line[cost], y=line[quality], mode="lines", name="frontier",
                                line={"dash": "dot", "color": "#d62728"}))
    metric = shown["quality_metric"].iloc[0] if len(shown) and "quality_metric" in shown else quality
    figure.update_layout(xaxis={"title": COST_AXES.get(cost, cost), "type": "log"}, yaxis={"title": metric},
                         title="Cost against quality (red: the frontier, no run both cheaper and better)")
    return figure
