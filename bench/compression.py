"""Compression on one budget: the embedded MiniLM fully fine-tuned on rotten_tomatoes (fp32), against its dynamic
int8 copy, its 50%-pruned copy (with and without a short fine-tune), and a 3-layer student distilled from it:
test accuracy, size on disk, batch-1 and batch-32 CPU latency. Writes the `compression` section of bench/RESULTS.md.

    python bench/compression.py                        # about 12 min on 2 idle CPU cores
    python bench/compression.py --parent frontier-full-<tag>   # reuse a finished full fine-tune of the bench home
    python bench/compression.py --quick                # a smoke run (numbers mean little; RESULTS.md untouched)
    python bench/compression.py --time-only            # time the last run's models again (e.g. on an idle machine)

Every variant is an ftlab run (`ftlab compress`, `ftlab train --method distill`) scored on the same test reviews.
Latency is timed here, for every model in one process, round-robin (so a slow spell hits every model alike): the
forward pass alone on 32 test reviews, one at a time (batch 1) and all together (batch 32), median over the
rounds after warm-up calls, at the torch thread count stated.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import astuple, dataclass

import pandas as pd

from common import BENCH_DIR, load_report, machine, use_bench_home, write_section

LAST_RUN = BENCH_DIR / "out" / "compression_runs.json"
"""The last run's parent and variants (label, run id, note), for --time-only."""
TARGETS = {"int8 dynamic": (1.5, 0.01), "distilled 3-layer student": (1.8, 0.02)}
"""Row -> (least speed-up, largest accuracy loss) the issue asks for."""


@dataclass
class Variant:
    label: str
    run_id: str
    note: str = ""


def train_parent(args: argparse.Namespace, tag: str) -> str:
    import ftlab

    return ftlab.train(ftlab.TrainConfig(**base_config(args), method="full", name=f"compression-full-{tag}"),
                       progress=False)["run_id"]


def base_config(args: argparse.Namespace, steps: int | None = None) -> dict:
    steps = steps or args.steps
    return dict(dataset="rotten_tomatoes", train_size=args.train_size, test_size=args.test_size, eval_size=200,
                max_steps=steps, eval_steps=steps, save_steps=steps + 1, batch_size=16, seed=42, log_steps=25)


def make_variants(parent: str, args: argparse.Namespace, tag: str) -> list[Variant]:
    """The compressed runs (named after the parent and what was done) and the distilled student."""
    import ftlab
    from ftlab.compress import compress_run
    from ftlab.errors import UserError

    def compressed(label: str, **options) -> Variant:
        print(f"== {label}", flush=True)
        return Variant(label, compress_run(parent, latency_repeats=1, **options)["run_id"])

    ft = args.finetune_steps
    variants = [Variant("fp32 (full fine-tune)", parent),
                compressed("int8 dynamic", int8=True),
                compressed("int8 dynamic, Linear layers only", int8=True, int8_embeddings=False),
                compressed("pruned 50%", prune=0.5),
                compressed(f"pruned 50% + {ft} fine-tune steps", prune=0.5, prune_finetune_steps=ft),
                compressed(f"pruned 50% + {ft} steps, then int8", prune=0.5, prune_finetune_steps=ft, int8=True)]
    print("== distilled 3-layer student", flush=True)
    try:
        config = ftlab.TrainConfig(**base_config(args, args.student_steps), method="distill",
                                   name=f"compression-student-{tag}",
                                   method_options={"teacher": parent, "student_layers": 3})
        student = ftlab.train(config, progress=False)["run_id"]
    except UserError as exc:  # `--method distill` missing from this build: the table says so
        print(f"   skipped: {exc}", flush=True)
        return variants
    variants.append(Variant("distilled 3-layer student", student,
                            note=f"{args.student_steps} steps, teacher: fp32 row"))
    variants.append(Variant("student, then int8", compress_run(student, int8=True, latency_repeats=1)["run_id"]))
    return variants


def table(variants: list[Variant], parent: str, rounds: int) -> pd.DataFrame:
    import ftlab
    from ftlab.compress import measure
    from ftlab.evaluate import predictions, read_split
    from ftlab.runs import run_dir

    test, fp32 = read_split(parent, "test")["text"].tolist(), predictions(parent, "test")[0]
    timed = measure.time_runs([v.run_id for v in variants], rounds=rounds, texts_from=parent).set_index("run_id")
    rows = []
    for variant in variants:
        record = ftlab.summary(variant.run_id)
        assert read_split(variant.run_id, "test")["text"].tolist() == test, f"{variant.run_id}: another test split"
        files = measure.weight_files(run_dir(variant.run_id) / "model")
        metrics = record["metrics"]
        rows.append({"model": variant.label, "run_id": variant.run_id, "accuracy": metrics["test_accuracy"],
                     "size_mb": measure.size_mb(files), "zipped_mb": measure.zipped_mb(files),
                     "sparsity": metrics.get("sparsity"),
                     "agreement": measure.agreement(predictions(variant.run_id, "test")[0], fp32),
                     "batch1_ms": timed.loc[variant.run_id, "batch1_ms"],
                     "batch32_ms": timed.loc[variant.run_id, "batch32_ms"], "note": variant.note})
    frame = pd.DataFrame(rows)
    reference = frame.iloc[0]
    frame["accuracy_change"] = frame["accuracy"] - reference["accuracy"]
    frame["size_ratio"] = reference["size_mb"] / frame["size_mb"]
    frame["speedup_batch1"] = reference["batch1_ms"] / frame["batch1_ms"]
    frame["speedup_batch32"] = reference["batch32_ms"] / frame["batch32_ms"]
    return frame


def verdicts(frame: pd.DataFrame) -> list[str]:
    lines = []
    for label, (speedup, loss) in TARGETS.items():
        rows = frame[frame["model"] == label]
        if rows.empty:
            lines.append(f"- {label}: not measured (see above).")
            continue
        row = rows.iloc[0]
        met = row["speedup_batch1"] >= speedup and row["speedup_batch32"] >= speedup and -row["accuracy_change"] <= loss
        lines.append(f"- {label}: target ≥ {speedup}x faster within {100 * loss:.0f} point(s): "
                     f"{row['speedup_batch1']:.2f}x (batch 1), {row['speedup_batch32']:.2f}x (batch 32), "
                     f"accuracy {100 * row['accuracy_change']:+.1f} points: **{'met' if met else 'not met'}**.")
    return lines


def section(frame: pd.DataFrame, args: argparse.Namespace, parent: str, loads: list[float], seconds: float,
            threads: int) -> str:
    lines = [
        "## Compression: int8, pruning, distillation (bench/compression.py)", "",
        f"Machine: {machine()}; {load_report(loads)}. "
        + (f"Latency timed again, {seconds:.0f} s (--time-only)." if args.time_only else
           f"One run, {seconds:.0f} s in all."),
        f"fp32 model: minilm fully fine-tuned on rotten_tomatoes (run `{parent}`: {args.train_size} training reviews, "
        f"{args.steps} steps of batch 16, seed 42). The student: the fp32 model cut to 3 of its layers, distilled "
        f"from it on the same reviews for {args.student_steps} steps (bench/distill_budget.py: 250 steps left it 3 "
        "points behind). "
        f"Every row is scored on the same {args.test_size} test reviews. "
        f"Latency: forward pass only, on 32 test reviews, one at a time (batch 1) and together (batch 32), "
        f"median of {args.rounds} round-robin rounds after warm-up, {threads} torch threads. Size: the weight files "
        "on disk (zipped with zlib level 1 beside it: what the zeros of pruning could save in a sparse or "
        "compressed format). Agreement: share of test reviews with the fp32 model's prediction.", "",
        "| model | test accuracy | vs fp32 (points) | size MB | smaller | zipped MB | sparsity | batch-1 ms | "
        "speed-up | batch-32 ms | speed-up | agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in frame.itertuples():
        sparsity = "" if pd.isna(row.sparsity) else f"{100 * row.sparsity:.1f}%"
        agreement = "" if pd.isna(row.agreement) else f"{100 * row.agreement:.1f}%"
        lines.append(f"| {row.model} | {row.accuracy:.3f} | {100 * row.accuracy_change:+.1f} | {row.size_mb:.1f} | "
                     f"{row.size_ratio:.2f}x | {row.zipped_mb:.1f} | {sparsity} | {row.batch1_ms:.1f} | "
                     f"{row.speedup_batch1:.2f}x | {row.batch32_ms:.1f} | {row.speedup_batch32:.2f}x | {agreement} |")
    lines += ["", "Targets:", *verdicts(frame), "",
              "Sparsity is measured on the saved weights of the encoder's Linear layers (int8 also rounds some small "
              "weights to zero). Unstructured zeros are stored and multiplied like any other number: the pruned "
              "model is as large and as slow as the fp32 one until it is stored sparse (see the zipped size) and "
              "run by sparse kernels. int8 stores the Linear weights and the word embeddings in 8 bits; its speed "
              "comes from the int8 matrix products of the Linear layers."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", help="a finished full fine-tune in the bench home to compress (default: train one)")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=250, help="optimizer steps of the fp32 model")
    parser.add_argument("--student-steps", type=int, default=750,
                        help="optimizer steps of the student (bench/distill_budget.py: 3 layers need ~750 to come "
                             "within 2 points of the teacher)")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--finetune-steps", type=int, default=100, help="fine-tune steps after pruning")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds of every model")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    parser.add_argument("--time-only", action="store_true",
                        help="skip training and compressing: time the last run's models again, rewrite the table")
    args = parser.parse_args()
    if args.quick:
        args.train_size, args.steps, args.student_steps, args.test_size, args.finetune_steps, args.rounds = \
            64, 4, 4, 64, 2, 2
    use_bench_home()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    tag = str(int(time.time()))
    loads, started = [os.getloadavg()[0]], time.time()
    if args.time_only:
        saved = json.loads(LAST_RUN.read_text())
        parent, variants = saved["parent"], [Variant(*row) for row in saved["variants"]]
        vars(args).update(saved["args"])
    else:
        parent = args.parent or train_parent(args, tag)
        variants = make_variants(parent, args, tag)
        kept = ("train_size", "steps", "student_steps", "test_size", "finetune_steps")
        LAST_RUN.write_text(json.dumps({"parent": parent, "variants": [astuple(v) for v in variants],
                                        "args": {k: getattr(args, k) for k in kept}}, indent=2))
        loads.append(os.getloadavg()[0])
    frame = table(variants, parent, args.rounds)
    loads.append(os.getloadavg()[0])
    print(frame.drop(columns=["note"]).to_string())
    text = section(frame, args, parent, loads, time.time() - started, torch.get_num_threads())
    print(text)
    if not args.quick:
        write_section("compression", text)


if __name__ == "__main__":
    main()
