"""`ftlab cost RUN [RUN ...]`: what each run cost and bought (`ftlab.cost`), and which runs are on the frontier."""

from __future__ import annotations

import argparse
from typing import Any

from ftlab.errors import UserError


def add_cost_parser(sub: Any) -> None:
    command = sub.add_parser(
        "cost", help="cost/value report: params, tokens, estimated FLOPs, time, memory, size, money",
        description="The cost/value report of one or more runs: trainable and total parameters, tokens seen, "
                    "estimated training FLOPs (2·N·T + 2·N_back·T + 2·N_train·T, 6·N·T for full fine-tuning) beside "
                    "the seeds' C = B × D × N, wall time, samples/s, peak memory, size on disk and, with a price per "
                    "device-hour, money. With several runs: which are on the cost-quality frontier.")
    command.add_argument("runs", nargs="+", metavar="RUN")
    command.add_argument("--price-per-hour", type=float, metavar="P",
                         help="price of one device-hour, in your currency (default: $FTLAB_PRICE_PER_HOUR, else none)")
    command.add_argument("--frontier", default="train_flops", metavar="AXIS",
                         help="cost axis of the frontier: train_flops, wall_seconds, money, model_mb, trainable_params")
    command.add_argument("--json", action="store_true")


def cmd_cost(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.cost import COST_AXES, cost_table, pareto_front, price_per_hour

    price_per_hour(args.price_per_hour)  # a bad price is refused before any run is read
    if args.frontier not in COST_AXES:
        raise UserError(f"--frontier {args.frontier!r} is not a cost axis; use one of {', '.join(COST_AXES)}.")
    table = cost_table(args.runs, price=args.price_per_hour)
    if args.frontier == "money" and table["money"].isna().all():
        raise UserError("--frontier money needs a price: add --price-per-hour P (or set FTLAB_PRICE_PER_HOUR).")
    table["on_frontier"] = pareto_front(table, args.frontier)
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in table.to_dict("records")]
    return {"frontier_axis": args.frontier, "runs": rows}


def print_cost(result: dict[str, Any]) -> None:
    for row in result["runs"]:
        star = " *" if row["on_frontier"] and len(result["runs"]) > 1 else ""
        print(f"run {row['run_id']}{star}: {row['status']}, {row['method']} on {row['model']}, "
              f"{row['quality_metric']}={_num(row['quality'], '.3f')}")
        print(f"  params       {_num(row['trainable_params'], ',d')} trainable of {_num(row['total_params'], ',d')}")
        print(f"  tokens seen  {_num(row['tokens_seen'], ',.0f')} in {_num(row['steps'], ',d')} steps of "
              f"{row['samples_per_step']} samples ({row['processes']} process{'es' if row['processes'] > 1 else ''})")
        print(f"  FLOPs        {_num(row['train_flops'], '.3g')}  [{row['flops_formula']}]")
        print(f"  seeds' C     {_num(row['seeds_flops'], '.3g')}  [{row['seeds_formula']}]")
        print(f"  time         {_num(row['wall_seconds'], ',.0f')} s wall, "
              f"{_num(row['train_samples_per_s'], ',.1f')} samples/s")
        memory = f"peak RSS {_num(row['peak_rss_mb'], ',.0f')} MB"
        if row.get("peak_cuda_mb") is not None:
            memory += f", peak GPU {_num(row['peak_cuda_mb'], ',.0f')} MB"
        print(f"  memory       {memory}; saved model {_num(row['model_mb'], ',.1f')} MB")
        if row["money"] is not None:
            print(f"  money        {row['money']:.4f} at {row['price_per_device_hour']:g} per device-hour")
    if len(result["runs"]) > 1:
        print(f"* on the frontier of {result['frontier_axis']} against quality: no other run is both cheaper and "
              "better")


def _num(value: Any, spec: str) -> str:
    if value is None:
        return "n/a"
    return format(int(value) if spec.endswith("d") else value, spec)
