"""`ftlab` command line. Every command calls the same library functions as the app and the notebooks.

JSON mode prints exactly one JSON value on stdout; progress and logs go to stderr.
Exit codes: 0 success, 2 the user's mistake (one clear paragraph, no traceback), 1 a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
from typing import Any

from ftlab import cli_analysis, cli_compress, cli_cost, cli_fewshot, cli_generate, cli_serve
from ftlab.cli_flags import Parser, add_config_flags, add_method_flags
from ftlab.config import TrainConfig
from ftlab.distributed import is_main
from ftlab.errors import UserError

def build_parser() -> tuple[argparse.ArgumentParser, dict[str, tuple[str, str]]]:
    parser = Parser(prog="ftlab", description="Fine-Tuning Workbench: fine-tune, track and inspect "
                                     "transformer models. Runs, checkpoints and the MLflow store live in $FTLAB_HOME.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="fine-tune a model (a new run, or --resume one)",
                           description="Fine-tune a model. Values layer: preset < --config file < flags.")
    train.add_argument("--config", help="YAML file of config values (flags override it)")
    train.add_argument("--resume", metavar="RUN", help="continue RUN from its last checkpoint, optimizer state included")
    train.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    train.add_argument("--queue", action="store_true",
                       help="submit to the job queue and return at once; a background worker runs it (see `ftlab jobs`)")
    train.add_argument("--gpu", type=int, metavar="N", help="with --queue: run on GPU N (default: any free one)")
    train.add_argument("--nproc", type=int, metavar="N", help="with --queue: train with N data-parallel processes "
                       "(torchrun; DDP over gloo on CPUs, NCCL on GPUs); one batch is N x --batch-size examples")
    add_config_flags(train)
    owners = add_method_flags(train)

    runs_cmd = sub.add_parser("runs", help="list runs in the tracking store")
    runs_cmd.add_argument("--json", action="store_true")

    predict = sub.add_parser("predict", help="predict labels for texts with a trained run")
    predict.add_argument("run", metavar="RUN")
    predict.add_argument("--text", action="append", required=True, help="text to classify (repeat for several)")
    predict.add_argument("--json", action="store_true")

    evaluate = sub.add_parser("evaluate", help="score a run on a split and cache its per-example predictions")
    evaluate.add_argument("run", metavar="RUN")
    evaluate.add_argument("--split", default="test", help="train, validation or test (default: test)")
    evaluate.add_argument("--refresh", action="store_true", help="recompute even when predictions are cached")
    evaluate.add_argument("--json", action="store_true")

    explain = sub.add_parser("explain", help="explain a run's prediction on a text: SHAP, LIME, integrated gradients",
                             description="Per-word attributions of a run's prediction, from SHAP (Partition), LIME "
                                         "and integrated gradients; cached in the run folder.")
    explain.add_argument("run", metavar="RUN")
    explain.add_argument("--text", required=True, help="the text to explain")
    explain.add_argument("--explainer", default="all", choices=["shap", "lime", "ig", "all"],
                         help="which method (default: all three)")
    explain.add_argument("--target", metavar="LABEL", help="the class to explain (default: the predicted one)")
    explain.add_argument("--shap-evals", type=int, default=300, metavar="N", help="SHAP model evaluations (300)")
    explain.add_argument("--lime-samples", type=int, default=1000, metavar="N", help="LIME perturbed samples (1000)")
    explain.add_argument("--ig-steps", type=int, default=50, metavar="N", help="integrated-gradients steps (50)")
    explain.add_argument("--fast", action="store_true",
                         help="explain with a faster bf16 copy of the model (int8 for SHAP and LIME on CPUs without "
                              "fast bf16), used where its probabilities agree with the full model's within 0.01")
    explain.add_argument("--entity", type=int, default=0, metavar="N",
                         help="NER runs: which entity of the text to explain, by number (0, the first, by default); "
                              "integrated gradients of its tags")
    explain.add_argument("--no-cache", action="store_true", help="recompute even when the explanation is cached")
    explain.add_argument("--json", action="store_true")

    for name, text in [("datasets", "list registered datasets"), ("models", "list registered models"),
                       ("methods", "list fine-tuning methods and their trainable fraction on the embedded model")]:
        sub.add_parser(name, help=text).add_argument("--json", action="store_true")

    jobs = sub.add_parser("jobs", help="show the job queue: running and queued fine-tunes")
    jobs.add_argument("--concurrency", metavar="N",
                      help="set how many jobs run at once ('auto': one per GPU, or 1 on a CPU)")
    jobs.add_argument("--json", action="store_true")
    for name, text in [("cancel", "stop a queued or running job (a running one checkpoints first)"),
                       ("delete", "delete a finished, failed or cancelled run: its folder and tracking record")]:
        command = sub.add_parser(name, help=text)
        command.add_argument("run", metavar="RUN")
        command.add_argument("--json", action="store_true")
    sub.choices["delete"].add_argument("--yes", action="store_true", help="confirm: the run cannot be restored")

    slices = sub.add_parser("slices", help="metrics per slice (sex, race, keywords, length...) with 95%% intervals",
                            description="A run's metrics per slice with bootstrap intervals, the disparity of "
                                        "--metric and, for binary tasks, demographic-parity and equalised-odds "
                                        "differences. Without --by: one report per metadata column with 2-50 groups.")
    slices.add_argument("--by", action="append", metavar="COL", help="a metadata column, keywords, length or "
                        "confidence; repeat to intersect (--by sex --by race)")
    slices.add_argument("--keywords", metavar="FILE", help="YAML of keyword groups for --by keywords "
                        "(default: configs/slices/keyword_groups.yaml)")
    slices.add_argument("--metric", default="accuracy", choices=cli_analysis.METRIC_CHOICES,
                        metavar="NAME", help="the metric whose disparity is reported: "
                                             f"{', '.join(cli_analysis.METRIC_CHOICES)} (accuracy)")
    slices.add_argument("--positive", metavar="LABEL", help="the positive label (default: the second label sorted)")
    slices.add_argument("--n-boot", type=int, default=1000, metavar="N", help="bootstrap resamples (1000; 0: none)")
    slices.add_argument("--min-size", type=int, default=30, metavar="N", help="mark smaller slices as small (30)")
    errors = sub.add_parser("errors", help="confusion matrix, calibration, most confident errors, worst slices",
                            description="Error analysis of a run's predictions: confusion matrix, per-class report, "
                                        "calibration (ECE), the most confident errors, and the slices (words, "
                                        "metadata, embedding clusters) where errors are significantly more common.")
    errors.add_argument("--top", type=int, default=10, metavar="N", help="confident errors and worst slices shown (10)")
    errors.add_argument("--embeddings", action="store_true", help="also search clusters of the model's embeddings")
    for command in (slices, errors):
        command.add_argument("run", metavar="RUN")
        command.add_argument("--split", default="test", help="train, validation or test (default: test)")
        command.add_argument("--data", metavar="FILE", help="a labelled file to score instead of the split")
        command.add_argument("--text-col", metavar="COL", help="--data's text column (default: text)")
        command.add_argument("--label-col", metavar="COL", help="--data's label column (default: label)")
        command.add_argument("--json", action="store_true")
    cli_analysis.add_robustness_parser(sub)
    cli_fewshot.add_fewshot_parser(sub)
    cli_compress.add_compress_parser(sub)
    cli_cost.add_cost_parser(sub)
    cli_serve.add_serve_parsers(sub)
    cli_generate.add_generate_parser(sub)

    assets = sub.add_parser("assets", help="manage the embedded model and data assets")
    assets.add_argument("action", choices=["fetch"], help="fetch: download, verify and extract every asset (and "
                        "convert the embedded causal LM from GGUF once)")
    return parser, owners


# -- commands -----------------------------------------------------------------------------------------------------

def cmd_train(args: argparse.Namespace, owners: dict[str, tuple[str, str]]) -> dict[str, Any]:
    from ftlab.config import load_config_file, resolve_config
    from ftlab import jobs
    from ftlab.train import resume, train

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if f.name != "method_options"}
    method_flags = {dest: owners[dest] for dest in owners if getattr(args, dest) is not None}
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None]
        given += (["--config"] if args.config else []) + [_flag(*owner) for owner in method_flags.values()]
        if given:
            raise UserError(f"--resume continues a run with its own saved config; drop {', '.join(given)} "
                            "(or start a new run with them).")
        if args.queue:
            jobs.submit_resume(args.resume, gpu=args.gpu, nproc=args.nproc)
            return _queued(args.resume)
    if args.gpu is not None and not args.queue:
        raise UserError("--gpu chooses the GPU of a queued job; add --queue, or set CUDA_VISIBLE_DEVICES for a "
                        "run in this terminal.")
    if args.nproc is not None and not args.queue:
        raise UserError(f"--nproc starts the processes of a queued job; add --queue, or launch them yourself: "
                        f"torchrun --nproc_per_node {args.nproc} -m ftlab.cli train ... (without --nproc).")
    if args.resume:
        return resume(args.resume)
    config = resolve_config(load_config_file(args.config) if args.config else {}, overrides)
    stray = {m: [_flag(m, o) for m2, o in method_flags.values() if m2 == m]
             for m, _ in method_flags.values() if m != config.method}
    if stray:
        given = "; ".join(f"{', '.join(flags)} {'is an option' if len(flags) == 1 else 'are options'} of --method {m}"
                          for m, flags in stray.items())
        raise UserError(f"{given}, not of --method {config.method}. Drop {'it' if len(method_flags) == 1 else 'them'}, or choose --method "
                        f"{' / '.join(stray)} instead.")
    if method_flags:
        options = {**config.method_options, **{o: getattr(args, d) for d, (_, o) in method_flags.items()}}
        config = TrainConfig.from_dict({**config.to_dict(), "method_options": options})
    if args.queue:
        return _queued(jobs.submit(config, gpu=args.gpu, nproc=args.nproc))
    return train(config)


def _queued(run_id: str) -> dict[str, Any]:
    from ftlab import jobs

    position = next((j["position"] for j in jobs.list_jobs() if j["run_id"] == run_id), None)
    return {"run_id": run_id, "status": "queued" if position else "running", "position": position,
            "log": str(jobs.log_path(run_id))}


def _flag(method: str, option: str) -> str:
    from ftlab.methods import get_method

    return get_method(method).flag(option)


def cmd_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    from ftlab.records import list_runs

    return list_runs()


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.evaluate import predict

    results = predict(args.run, args.text)
    if len(results) == 1:
        return {"run_id": args.run, **results[0]}
    return {"run_id": args.run, "predictions": [{"text": t, **r} for t, r in zip(args.text, results)]}


def cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.evaluate import predictions, predictions_path
    from ftlab.records import summary

    table, metrics = predictions(args.run, args.split, refresh_cache=args.refresh)
    record = summary(args.run)
    main = record["main_metric"]["name"]
    from ftlab.tasks import get_task

    report = get_task(record["task"]).text_report(table)
    record.update(classification_report=report,
                  split=args.split, metrics=metrics, predictions=str(predictions_path(args.run, args.split)),
                  examples=len(table), main_metric={"name": main, "split": args.split, "value": metrics.get(main)})
    return record


def cmd_explain(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.explain import explain
    from ftlab.runs import read_config, read_state

    read_state(args.run)
    if read_config(args.run).task == "ner":
        from ftlab.explain.entity import explain_entity

        return explain_entity(args.run, args.text, args.entity, ig_steps=args.ig_steps).to_dict()

    [explanation] = explain(args.run, [args.text], args.explainer, args.target, shap_max_evals=args.shap_evals,
                            lime_samples=args.lime_samples, ig_steps=args.ig_steps, fast=args.fast,
                            use_cache=not args.no_cache)
    return explanation.to_dict()


def cmd_datasets(args: argparse.Namespace) -> list[dict[str, Any]]:
    from ftlab.data import list_datasets

    return [{"name": d.name, "task": d.task, "description": d.description, "group_col": d.group_col}
            for d in list_datasets()]


def cmd_models(args: argparse.Namespace) -> list[dict[str, Any]]:
    from ftlab.models import list_models

    return [{"name": m.name, "tasks": list(m.tasks), "params": m.params, "description": m.description}
            for m in list_models()]


def cmd_methods(args: argparse.Namespace) -> list[dict[str, Any]]:
    from ftlab.methods.summary import method_table

    return method_table()


def cmd_jobs(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab import jobs

    if args.concurrency is not None:
        value = args.concurrency.strip().lower()
        if value != "auto" and not value.isdigit():
            raise UserError(f"--concurrency takes a whole number or 'auto', not {args.concurrency!r}. "
                            "Example: ftlab jobs --concurrency 2.")
        jobs.set_concurrency(None if value == "auto" else int(value))
    return {"concurrency": jobs.concurrency(), "worker_alive": jobs.worker_alive(), "jobs": jobs.list_jobs()}


def cmd_cancel(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab import jobs

    return {"run_id": args.run, "status": jobs.cancel(args.run)}


def cmd_delete(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.runs import delete_run

    if not args.yes:
        raise UserError(f"Deleting run '{args.run}' removes its checkpoints, model and metrics for good; "
                        f"add --yes to confirm: ftlab delete {args.run} --yes.")
    delete_run(args.run)
    return {"run_id": args.run, "status": "deleted"}


# main() dispatches by name; these live in cli_analysis to keep this module short.
cmd_slices, cmd_errors, cmd_robustness = cli_analysis.cmd_slices, cli_analysis.cmd_errors, cli_analysis.cmd_robustness
cmd_fewshot = cli_fewshot.cmd_fewshot
cmd_compress = cli_compress.cmd_compress
cmd_cost = cli_cost.cmd_cost
cmd_serve, cmd_export = cli_serve.cmd_serve, cli_serve.cmd_export
cmd_generate = cli_generate.cmd_generate


def cmd_assets(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.assets import fetch_all
    from ftlab.causal_lm import smollm2_folder

    paths = fetch_all()
    paths["smollm2-135m"] = smollm2_folder()  # the GGUF converted once to a safetensors folder (~20 s)
    return {name: str(path) for name, path in paths.items()}


def main(argv: list[str] | None = None) -> int:
    cli_serve.before_torch(sys.argv[1:] if argv is None else argv)  # building the parser imports torch
    parser, owners = build_parser()
    parser.command_line = list(sys.argv[1:] if argv is None else argv)  # for the hints of argparse's errors
    args = parser.parse_args(argv)
    args.stdout = sys.stdout  # the terminal, for a command that streams its result (`generate`) past the redirect
    logging.basicConfig(level=logging.INFO, format="ftlab: %(message)s", stream=sys.stderr)
    quiet_libraries()
    handler = globals()[f"cmd_{args.command}"]
    try:
        # Libraries print progress to stdout; keep stdout for our one result.
        with contextlib.redirect_stdout(sys.stderr):
            result = handler(args, owners) if args.command == "train" else handler(args)
    except UserError as exc:
        if is_main():  # under torchrun every rank gets the error; one says it
            print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if not is_main():
        return 0  # under torchrun, rank 0 prints the one result
    if getattr(args, "json", False):
        print(json.dumps(result, default=str))
    else:
        from ftlab.cli_output import print_human

        print_human(args.command, result)
    return 0


def quiet_libraries() -> None:
    import os
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    for name in ("transformers", "mlflow", "alembic", "peft", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
