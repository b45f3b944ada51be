"""`ftlab generate RUN --prompt T`: the answer of a causal LM run (sft) to a prompt, and with --compare the base
model's answer to the same prompt."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO


def add_generate_parser(sub: Any) -> None:
    command = sub.add_parser(
        "generate", help="generate an answer with an instruction-tuned (sft) run",
        description="The answer of an sft run to one prompt, through the model's chat template. --compare also "
                    "answers with the base model (the adapter switched off), for a before/after look.")
    command.add_argument("run", metavar="RUN")
    command.add_argument("--prompt", required=True, help="the user's message to answer")
    command.add_argument("--system", help="an optional system message before the prompt")
    command.add_argument("--max-new-tokens", type=int, default=128, metavar="N", help="longest answer in tokens (128)")
    command.add_argument("--temperature", type=float, default=0.0, metavar="X",
                         help="0 (default) takes the likeliest token each time; higher values sample more freely")
    command.add_argument("--compare", action="store_true", help="also answer with the model before fine-tuning")
    command.add_argument("--json", action="store_true")


def cmd_generate(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.generate import generate_for_run

    terminal = None if args.json else getattr(args, "stdout", None)
    result = generate_for_run(args.run, args.prompt, system=args.system, max_new_tokens=args.max_new_tokens,
                              temperature=args.temperature, compare=args.compare,
                              on_piece=_stream_to(terminal, args.run) if terminal else None)
    return {**result, "streamed": True} if terminal else result


def _stream_to(terminal: TextIO, run_id: str) -> Callable[[str, str], None]:
    """Writes each answer to the terminal as its tokens come, under a heading of whose answer it is."""
    headings = {"response": f"run {run_id}:", "base_response": "\n\nbase model, before fine-tuning:"}
    started: set[str] = set()

    def write(key: str, piece: str) -> None:
        if key not in started:
            started.add(key)
            terminal.write(headings[key] + "\n")
        terminal.write(piece)
        terminal.flush()

    return write


def print_generate(result: dict[str, Any]) -> None:
    if result.pop("streamed", False):  # the answers are on the terminal already: add their timings
        timings = [f"{result['response_seconds']:.1f} s"]
        if "base_response" in result:
            timings.append(f"base model {result['base_response_seconds']:.1f} s")
        print(f"\n({', '.join(timings)})")
        return
    print(f"run {result['run_id']} ({result['response_seconds']:.1f} s):")
    print(result["response"])
    if "base_response" in result:
        print(f"\nbase model, before fine-tuning ({result['base_response_seconds']:.1f} s):")
        print(result["base_response"])
