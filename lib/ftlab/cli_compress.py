"""`ftlab compress RUN`: prune and/or quantize a finished run into a new run (`ftlab.compress.compress_run`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_compress_parser(sub: Any) -> None:
    command = sub.add_parser(
        "compress", help="prune and/or quantize a finished run into a new run: accuracy, size, latency",
        description="Make a new run from a finished RUN holding its compressed model: global magnitude pruning of "
                    "the encoder's Linear weights (--prune, optionally fine-tuned after with the zeros held) and/or "
                    "dynamic int8 quantization for CPU inference (--int8). The new run is scored on RUN's test "
                    "split and records sparsity, size on disk and batch-1/batch-32 latency beside the fp32 model's.")
    command.add_argument("run", metavar="RUN")
    command.add_argument("--prune", type=float, metavar="S",
                         help="target sparsity: zero this fraction of the encoder's Linear weights (0 < S < 1)")
    command.add_argument("--prune-finetune-steps", type=int, default=0, metavar="N",
                         help="fine-tune N steps after pruning, pruned weights held at zero (default 0)")
    command.add_argument("--int8", action="store_true", help="dynamic int8 quantization for CPU inference")
    bits = command.add_mutually_exclusive_group()
    for n in (8, 4):
        bits.add_argument(f"--load-in-{n}bit", dest="load_in_bits", action="store_const", const=n,
                          help=f"reload the weights in {n}-bit through bitsandbytes (a CUDA GPU and bitsandbytes)")
    command.add_argument("--name", help="name of the new run (default: RUN's name and what was done)")
    command.add_argument("--json", action="store_true")


def cmd_compress(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.compress import compress_run

    return compress_run(args.run, prune=args.prune, prune_finetune_steps=args.prune_finetune_steps, int8=args.int8,
                        load_in_bits=args.load_in_bits, name=args.name)


def print_compress(result: dict[str, Any]) -> None:
    c = result["compression"]
    main, value = c["main_metric"], c.get(f"test_{c['main_metric']}")
    parent = f" (parent {c['parent_value']:.4f}, {value - c['parent_value']:+.4f})" if c["parent_value"] is not None \
        and value is not None else ""
    agree = f", same prediction as the parent on {100 * c['agreement_with_parent']:.1f}% of the test examples" \
        if "agreement_with_parent" in c else ""
    print(f"run {result['run_id']} from {c['parent']} ({c['label']}): {result['status']}")
    print(f"  test {main} {value if value is None else format(value, '.4f')}{parent}{agree}")
    print(f"  sparsity {100 * c['sparsity']:.1f}% of the encoder's {c['prunable_weights']:,} Linear weights")
    print(f"  size {c['size_mb']:.1f} MB (fp32 {c['reference_size_mb']:.1f} MB: {c['size_ratio']:.2f}x smaller); "
          f"zipped {c['size_zipped_mb']:.1f} MB (fp32 {c['reference_size_zipped_mb']:.1f} MB)")
    print(f"  latency batch 1 {c['latency_ms_batch1']:.1f} ms (fp32 {c['reference_latency_ms_batch1']:.1f} ms: "
          f"{c['speedup_batch1']:.2f}x), batch 32 {c['latency_ms_batch32']:.1f} ms (fp32 "
          f"{c['reference_latency_ms_batch32']:.1f} ms: {c['speedup_batch32']:.2f}x), {c['torch_threads']:.0f} "
          "torch threads")
