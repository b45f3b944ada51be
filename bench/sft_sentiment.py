"""Instruction tuning of the embedded causal LM (SmolLM2-135M-Instruct) with LoRA on the built-in sentiment
instructions, CPU: exact match of the generated answers on held-out instructions, before and after, with the wall
time of the training. Writes the `sft` section of bench/RESULTS.md.

    python bench/sft_sentiment.py                    # the issue's command: --max-steps 50, the sft defaults
    python bench/sft_sentiment.py --quick            # a smoke run (numbers mean little; RESULTS.md untouched)

It runs what `ftlab train --task sft --model smollm2-135m --method lora --max-steps 50` runs (the default
preset's sft section: batch 8, max length 256, 200-chat validation and test samples), with the test sample raised
by --test-size.
"""

from __future__ import annotations

import argparse
import os
import time

from common import load_report, machine, use_bench_home, write_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--test-size", type=int, default=200)
    parser.add_argument("--rank", type=int, help="--lora-r (default: the method's)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.test_size = 2, 8
    use_bench_home()
    import ftlab
    from ftlab.train import plan

    options = {"r": args.rank} if args.rank else {}
    config = ftlab.TrainConfig(task="sft", model="smollm2-135m", method="lora", max_steps=args.steps,
                               test_size=args.test_size, method_options=options,
                               name=f"sft-sentiment-{int(time.time())}")
    loads, started = [os.getloadavg()[0]], time.time()
    result = ftlab.train(config, progress=False)
    loads.append(os.getloadavg()[0])
    seconds = time.time() - started
    m = result["metrics"]
    lines = [
        "## Instruction tuning a causal LM: SmolLM2-135M + LoRA on sentiment instructions (bench/sft_sentiment.py)",
        "",
        f"Machine: {machine()}; {load_report(loads)}.",
        f"`ftlab train --task sft --model smollm2-135m --method lora --max-steps {args.steps}` (run `{result['run_id']}`; "
        f"LoRA r={config.method_options.get('r', 8)} on peft's default layers for Llama (q_proj, v_proj), lr "
        f"{plan(config).learning_rate:g}, batch {config.batch_size}, response-only loss, dataset "
        f"rotten_tomatoes_instructions split by film). {m['trainable_params']:,.0f} of {m['total_params']:,.0f} "
        f"parameters trained.",
        "",
        "| | exact match (first word) | lenient (label anywhere, no other label) | test perplexity |",
        "|---|---|---|---|",
        f"| zero-shot (before) | {m['test_base_exact_match']:.3f} | {m['test_base_lenient_match']:.3f} | "
        f"{m['test_base_perplexity']:.2f} |",
        f"| after {args.steps} LoRA steps | {m['test_exact_match']:.3f} | {m['test_lenient_match']:.3f} | "
        f"{m['test_perplexity']:.2f} |",
        "",
        f"Held-out: {args.test_size} test instructions (films unseen in training). Training: {m['train_runtime']:.0f} s "
        f"for {args.steps} steps ({m['train_tokens'] / m['train_runtime']:.0f} learned-and-prompt tokens/s, "
        f"{m['train_tokens']:,.0f} non-padding tokens); the whole run (loading, final validation on 200 chats, "
        f"scoring the test chats before and after, generating their answers) {seconds:.0f} s. Target: exact match "
        f">= 0.80 after SFT within 10 minutes of CPU training: "
        f"{'met' if m['test_exact_match'] >= 0.80 and m['train_runtime'] <= 600 else 'NOT met'}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("sft", text)


if __name__ == "__main__":
    main()
