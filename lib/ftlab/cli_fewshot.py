"""`ftlab fewshot`: the few-shot learning curve from the command line (the same `ftlab.fewshot.learning_curve`
that notebook 09 and bench/methods_frontier.py call)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ftlab.errors import UserError

log = logging.getLogger("ftlab")

BASE_FLAGS = {"dataset": str, "model": str, "max_steps": int, "batch_size": int, "learning_rate": float,
              "test_size": int, "eval_size": int}
"""The base config's most used flags; --config sets any other."""


def add_fewshot_parser(sub: Any) -> None:
    command = sub.add_parser(
        "fewshot", help="few-shot learning curve: each method trained on k examples per class, several seeds",
        description="Train every --methods at every --ks (examples per class) with --seeds seeds, each a tracked "
                    "run named <prefix>-<method>-k<k>-s<seed>, and report test accuracy per method and k "
                    "(mean, std, min, max across seeds). Finished points are reused, so an interrupted curve "
                    "continues where it stopped.")
    command.add_argument("--methods", default="full,lora,prompt_tuning", metavar="A,B",
                         help="comma-separated methods (full,lora,prompt_tuning)")
    command.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32, 64], metavar="K",
                         help="examples per class (8 16 32 64)")
    command.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds per k, 0..N-1 (3)")
    command.add_argument("--prefix", default="fewshot", help="run-name prefix; change it to train afresh (fewshot)")
    command.add_argument("--html", metavar="FILE", help="also write the plotly chart to FILE")
    command.add_argument("--config", metavar="FILE", help="YAML of base config values (flags override it)")
    for name, kind in BASE_FLAGS.items():
        command.add_argument("--" + name.replace("_", "-"), type=kind, default=None, metavar=name.upper(),
                             help=f"base config's {name} (see `ftlab train --help`)")
    command.add_argument("--json", action="store_true")


def cmd_fewshot(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.config import load_config_file, resolve_config
    from ftlab.fewshot import curve_figure, curve_summary, learning_curve

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.seeds < 1:
        raise UserError(f"--seeds must be 1 or more, got {args.seeds}; e.g. --seeds 3.")
    if any(k < 1 for k in args.ks):
        raise UserError(f"--ks are examples per class and must be 1 or more, got {args.ks}; e.g. --ks 8 16 32.")
    html = Path(args.html) if args.html else None
    if html is not None and not html.parent.is_dir():
        raise UserError(f"--html {html}: folder {html.parent} does not exist; create it or pick another path.")
    overrides = {name: getattr(args, name) for name in BASE_FLAGS}
    base = resolve_config(load_config_file(args.config) if args.config else {}, overrides)
    points = learning_curve(base, methods, ks=sorted(set(args.ks)), seeds=range(args.seeds), prefix=args.prefix,
                            on_result=lambda row: log.info("%s k=%s seed %s: accuracy %.3f", row["method"],
                                                           row["k"], row["seed"], row["accuracy"]))
    if html is not None:
        curve_figure(points).write_html(html, include_plotlyjs="cdn")
    return {"dataset": base.dataset, "points": points.to_dict("records"),
            "summary": curve_summary(points).to_dict("records"), "html": str(html) if html else None}


def print_fewshot(result: dict[str, Any]) -> None:
    print(f"few-shot curve on {result['dataset']}: test accuracy, mean ± std over seeds (min-max)")
    for row in result["summary"]:
        std = 0.0 if row["std"] != row["std"] else row["std"]  # one seed has no spread (NaN)
        print(f"  {row['method']:<16} k={row['k']:<4} {row['mean']:.3f} ± {std:.3f}  "
              f"({row['min']:.3f}-{row['max']:.3f}, {row['count']} seeds)")
    if result["html"]:
        print(f"chart: {result['html']}")
