"""The methods catalogue on one budget: every registered method on rotten_tomatoes with the same data, steps,
batch size and seed (each at its recommended learning rate), then the few-shot learning curve of full fine-tuning,
LoRA and prompt tuning. Writes two sections of bench/RESULTS.md and two plotly charts beside it.

    python bench/methods_frontier.py                 # about 35 min on 2 idle CPU cores
    python bench/methods_frontier.py --quick         # a smoke run (numbers mean little)
    python bench/methods_frontier.py --skip-fewshot  # only the frontier

Each frontier run is its own `ftlab train` process, so its peak memory (the process's maximum RSS) is its own.
Size on disk is the run's saved model folder: the whole model for full fine-tuning, peft's adapter folder for LoRA,
IA3, prompt and P-tuning, and only the trained tensors (with the tokenizer) for freeze, BitFit, prefix tuning and
adapters (`ftlab.model_files`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pandas as pd

from common import BENCH_DIR, load_report, machine, use_bench_home, write_section

FEWSHOT_METHODS = ("full", "lora", "prompt_tuning")


def train_in_own_process(method: str, args: argparse.Namespace, tag: str) -> dict:
    command = [sys.executable, "-m", "ftlab.cli", "train", "--json", "--dataset", "rotten_tomatoes", "--method", method,
               "--train-size", str(args.train_size), "--max-steps", str(args.steps), "--test-size", str(args.test_size),
               "--eval-size", "200", "--eval-steps", str(args.steps), "--save-steps", str(args.steps + 1),
               "--batch-size", "16", "--seed", "42", "--name", f"frontier-{method.replace('_', '-')}-{tag}"]
    print(f"== {method}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def frontier(args: argparse.Namespace, tag: str) -> pd.DataFrame:
    from ftlab.compare import cost_quality
    from ftlab.methods import list_methods
    from ftlab.methods.summary import method_table

    # A method that needs a run to start from (distill's teacher: bench/compression.py measures it) is left out.
    specs = [spec for spec, row in zip(list_methods(), method_table()) if "note" not in row]
    run_ids = [train_in_own_process(spec.name, args, tag)["run_id"] for spec in specs]
    return cost_quality(run_ids).assign(learning_rate=[spec.default_learning_rate for spec in specs])


def frontier_figure(table: pd.DataFrame):
    import plotly.express as px

    figure = px.scatter(table, x="trainable_params", y="test_accuracy", text="method", size="model_mb",
                        hover_data=["wall_seconds", "peak_rss_mb", "model_mb"], log_x=True,
                        title="Accuracy against trainable parameters (marker size: saved model MB)")
    figure.update_traces(textposition="top center")
    return figure


def frontier_section(table: pd.DataFrame, args: argparse.Namespace, loads: list[float], seconds: float) -> str:
    full = table.set_index("method").loc["full"]
    lines = [
        "## The methods catalogue on one budget (bench/methods_frontier.py)", "",
        f"Machine: {machine()}; {load_report(loads)}. One run, {seconds:.0f} s in all.",
        f"Model minilm, rotten_tomatoes, {args.train_size} training reviews, {args.steps} steps of batch 16, seed 42, "
        f"each method's recommended learning rate and default options; test accuracy on {args.test_size} test "
        "reviews. Each run is its own process (peak RSS is the process's). Chart: bench/methods_frontier.html.", "",
        "| method | test accuracy | vs full | trainable params | trainable % | saved model MB | wall s | peak RSS MB "
        "| learning rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.sort_values("test_accuracy", ascending=False).itertuples():
        lines.append(f"| {row.method} | {row.test_accuracy:.3f} | {row.test_accuracy - full.test_accuracy:+.3f} | "
                     f"{int(row.trainable_params):,} | {row.trainable_pct:.3f} | {row.model_mb:.1f} | "
                     f"{row.wall_seconds:.0f} | {row.peak_rss_mb:.0f} | {row.learning_rate:g} |")
    return "\n".join(lines)


def fewshot(args: argparse.Namespace, tag: str) -> pd.DataFrame:
    import ftlab
    from ftlab.fewshot import learning_curve

    base = ftlab.TrainConfig(dataset="rotten_tomatoes", max_steps=args.fewshot_steps, batch_size=8,
                             test_size=args.test_size, eval_size=64, eval_steps=args.fewshot_steps,
                             save_steps=args.fewshot_steps + 1, log_steps=10)
    return learning_curve(base, FEWSHOT_METHODS, ks=args.ks, seeds=range(args.seeds), prefix=f"fewshot-{tag}",
                          on_result=lambda row: print(row, flush=True))


def fewshot_section(points: pd.DataFrame, args: argparse.Namespace, loads: list[float], seconds: float) -> str:
    from ftlab.fewshot import curve_summary

    table = curve_summary(points)
    lines = [
        "## Few-shot learning curve (bench/methods_frontier.py)", "",
        f"Machine: {machine()}; {load_report(loads)}. {seconds:.0f} s in all.",
        f"rotten_tomatoes, k training reviews per class (seeded), {args.fewshot_steps} steps of batch 8 whatever k, "
        f"{args.seeds} seeds per k (the seed draws the k-shot sample, the split and the initialisation); test "
        f"accuracy on {args.test_size} test reviews. Chart: bench/fewshot_curve.html.", "",
        "| method | " + " | ".join(f"k={k}" for k in args.ks) + " |",
        "|---|" + "---|" * len(args.ks),
    ]
    for method, rows in table.groupby("method", sort=False):
        cells = [f"{r['mean']:.3f} ± {0 if pd.isna(r['std']) else r['std']:.3f}" for _, r in rows.iterrows()]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "Cells: mean ± standard deviation of test accuracy across seeds."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=250, help="optimizer steps of every frontier run")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fewshot-steps", type=int, default=60)
    parser.add_argument("--skip-fewshot", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.train_size, args.steps, args.test_size, args.ks, args.seeds, args.fewshot_steps = 64, 4, 64, [2, 4], 2, 4
    use_bench_home()
    tag = str(int(time.time()))
    loads, started = [os.getloadavg()[0]], time.time()
    table = frontier(args, tag)
    loads.append(os.getloadavg()[0])
    frontier_figure(table).write_html(BENCH_DIR / "methods_frontier.html", include_plotlyjs="cdn")
    section = frontier_section(table, args, loads, time.time() - started)
    print(section)
    if not args.quick:
        write_section("methods-frontier", section)
    if args.skip_fewshot:
        return
    loads, started = [os.getloadavg()[0]], time.time()
    points = fewshot(args, tag)
    loads.append(os.getloadavg()[0])
    from ftlab.fewshot import curve_figure

    curve_figure(points).write_html(BENCH_DIR / "fewshot_curve.html", include_plotlyjs="cdn")
    section = fewshot_section(points, args, loads, time.time() - started)
    print(section)
    if not args.quick:
        write_section("fewshot-curve", section)


if __name__ == "__main__":
    main()
