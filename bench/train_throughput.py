"""Training throughput: the seeds' recipe (`--preset seed`: pad to 128, random batches) against `--preset default`
(dynamic padding, length-grouped batches), same model, data and epochs, in one run; then full FT and LoRA with
the default preset on the whole training split. Writes its section of bench/RESULTS.md.

    python bench/train_throughput.py        # about 25 min on 2 CPU cores
    python bench/train_throughput.py --compare-train-size 500 --epochs 0.2   # a quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import machine, use_bench_home, write_section

NO_MID_RUN_WORK = 10**9
"""eval/save steps: no evaluation or checkpoint inside the timed loop, so samples/s measures training alone."""


def run(preset: str, method: str, epochs: float, train_size: int | None, tag: str) -> dict:
    import ftlab

    config = ftlab.TrainConfig(dataset="rotten_tomatoes", model="minilm", method=method, preset=preset,
                               epochs=epochs, train_size=train_size, eval_steps=NO_MID_RUN_WORK,
                               save_steps=NO_MID_RUN_WORK, log_steps=50, name=f"bench-{tag}-{int(time.time())}")
    print(f"== {tag}: preset {preset}, method {method}, {epochs} epochs", flush=True)
    summary = ftlab.train(config)
    table, _ = ftlab.predictions(summary["run_id"], "test")
    metrics = summary["metrics"]
    return {"tag": tag, "preset": preset, "method": method, "summary": summary, "correct": table["correct"].to_numpy(),
            "samples_per_s": summary["train_samples_per_second"], "accuracy": metrics["test_accuracy"],
            "macro_f1": metrics["test_macro_f1"], "wall": summary["wall_seconds"],
            "step_s": config.batch_size / summary["train_samples_per_second"], "trainable": summary["param_counts"]["trainable"],
            "total": summary["param_counts"]["total"]}


def paired_bootstrap_ci(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% CI of accuracy(a) - accuracy(b) on the same test examples."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n, len(a)))
    diffs = a[idx].mean(1) - b[idx].mean(1)
    return float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare-train-size", type=int, default=4000,
                        help="training examples for the seed-vs-default comparison (the seed recipe is slow)")
    parser.add_argument("--compare-epochs", type=float, default=1.0)
    parser.add_argument("--epochs", type=float, default=2.0, help="epochs of the whole-split full FT and LoRA runs")
    args = parser.parse_args()
    use_bench_home()
    started = time.time()
    seed = run("seed", "full", args.compare_epochs, args.compare_train_size, "seed-full")
    fast = run("default", "full", args.compare_epochs, args.compare_train_size, "default-full-same-data")
    default = run("default", "full", args.epochs, None, "default-full")
    lora = run("default", "lora", args.epochs, None, "default-lora")
    lo, hi = paired_bootstrap_ci(fast["correct"], seed["correct"])
    speedup = fast["samples_per_s"] / seed["samples_per_s"]
    rows = "\n".join(
        f"| {r['tag']} | {r['samples_per_s']:.1f} | {r['step_s']:.3f} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
        f"{r['wall']:.0f} | {r['trainable']:,} ({r['trainable'] / r['total']:.2%}) |"
        for r in (seed, fast, default, lora))
    body = f"""## Training throughput: `--preset seed` vs `--preset default` (bench/train_throughput.py)

Machine: {machine()}. Model minilm, data rotten_tomatoes, one run ({time.time() - started:.0f} s in all).
The first two rows train on the same {args.compare_train_size} training examples for {args.compare_epochs:g}
epoch(s) each; the last two on the whole training split for {args.epochs:g} epochs. Samples/s counts optimizer-step time only (ftlab's StepTimer: no
evaluation or checkpoint writes inside it); accuracy is on the film-grouped test split ({len(seed['correct'])} texts).

| run | train samples/s | s/step | test accuracy | test macro-F1 | wall s | trainable params |
|---|---|---|---|---|---|---|
{rows}

- **default / seed throughput: {speedup:.2f}x** (target >= 4x).
- Accuracy, default - seed on the same data and epochs: {fast['accuracy'] - seed['accuracy']:+.4f} (paired bootstrap 95% CI {lo:+.4f} .. {hi:+.4f}; target within 1 point: not worse). The presets are whole recipes: seed trains at
the seeds' 2e-5 without warmup, default at the method's 5e-5 with 6% warmup.
- Full FT (default preset) test accuracy {default['accuracy']:.4f}, LoRA {lora['accuracy']:.4f} (target >= 0.80 both).
- LoRA / full step time (default preset, whole split): {lora['step_s'] / default['step_s']:.2f}; LoRA trains {lora['trainable'] / default['trainable']:.2%} of full FT's parameters.
"""
    write_section("train_throughput", body)
    print(body)


if __name__ == "__main__":
    main()
