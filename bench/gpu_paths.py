"""GPU paths of mixed precision, QLoRA (and data-parallel training where there are 2+ GPUs), measured where a GPU is
lent.

    python bench/gpu_paths.py --prepare-carry   # on the CPU machine: bench/out/gpu_carry (~46 MB), see below
    python bench/gpu_paths.py                   # on the GPU machine; exits with a message where there is no CUDA

Each run goes through `ftlab.train`, the path `ftlab train` takes: minilm on rotten_tomatoes, one budget, in fp32,
bf16 (where the GPU has it natively) and fp16 (loss scaling by the Trainer's grad scaler). Reported per run: train
samples/s over optimizer-step time, test accuracy, peak CUDA memory, the precision the run RECORDED (observed from
the activations, not the request) and, for fp16, the final loss scale read from the checkpoint's scaler.pt (proof
that the loss was scaled). Then LoRA on the fp32 base against QLoRA (`--load-in-bits 4`: NF4 base, needs
bitsandbytes on the GPU machine). Then what `--precision auto` resolves to, and with 2+ GPUs the bf16 run again under
torchrun with 2 processes (NCCL), with distributed.json's verdicts. Writes the `gpu_paths` section of RESULTS.md.

The embedded model's weights (87 MB) exceed what a lent machine is sent, so `--prepare-carry` writes them in bf16
(44 MB) with the tokenizer and the rotten_tomatoes file to bench/out/gpu_carry; carry that folder and this script
restores the assets there (weights upcast to fp32: within bf16 rounding of the originals, fine for fine-tuning).
Never imported by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DIR, machine, use_bench_home, write_section  # noqa: E402

CARRY = BENCH_DIR / "out" / "gpu_carry"
ASSETS = BENCH_DIR.parent / "data" / "assets"
WEIGHTS = "model.safetensors"


def prepare_carry() -> None:
    """Write the carry folder from this machine's assets (CPU is enough)."""
    from safetensors.torch import load_file, save_file

    from ftlab.assets import asset_path

    minilm, rotten = asset_path("minilm"), asset_path("rotten_tomatoes")
    shutil.rmtree(CARRY, ignore_errors=True)
    shutil.copytree(minilm, CARRY / "minilm", ignore=shutil.ignore_patterns(WEIGHTS, ".git*"))
    tensors = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in load_file(minilm / WEIGHTS).items()}
    save_file(tensors, str(CARRY / "minilm" / WEIGHTS), metadata={"format": "pt"})
    shutil.copytree(rotten, CARRY / "rotten_tomatoes")
    size = sum(p.stat().st_size for p in CARRY.rglob("*") if p.is_file()) / 2**20
    print(f"wrote {CARRY} ({size:.0f} MB): carry it to the GPU machine, then run python bench/gpu_paths.py")


def restore_carry() -> str:
    """Make the embedded assets available offline; returns where the weights came from."""
    from safetensors.torch import load_file, save_file

    if (ASSETS / "minilm" / WEIGHTS).is_file():
        return "the embedded minilm"
    if not (CARRY / "minilm" / WEIGHTS).is_file():
        sys.exit(f"No minilm weights: neither {ASSETS / 'minilm'} nor {CARRY / 'minilm'} has {WEIGHTS}. Run "
                 "`python bench/gpu_paths.py --prepare-carry` where the assets are, and carry bench/out/gpu_carry.")
    ASSETS.mkdir(parents=True, exist_ok=True)
    shutil.copytree(CARRY / "minilm", ASSETS / "minilm", ignore=shutil.ignore_patterns(WEIGHTS), dirs_exist_ok=True)
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in load_file(CARRY / "minilm" / WEIGHTS).items()}
    save_file(tensors, str(ASSETS / "minilm" / WEIGHTS), metadata={"format": "pt"})
    shutil.copytree(CARRY / "rotten_tomatoes", ASSETS / "rotten_tomatoes", dirs_exist_ok=True)
    return "minilm carried in bf16, upcast to fp32"


def budget(args: argparse.Namespace) -> dict:
    return dict(dataset="rotten_tomatoes", method="full", train_size=args.train_size, test_size=args.test_size,
                eval_size=256, batch_size=args.batch_size, max_steps=args.steps, eval_steps=args.steps,
                save_steps=args.steps, log_steps=max(1, args.steps // 10), pad_to_multiple_of=8)


def one_run(args: argparse.Namespace, precision: str, tag: str, **changes) -> dict:
    import ftlab

    quantized = ["4-bit base"] if changes.get("load_in_bits") else []
    label = " ".join([changes.get("method", "full"), precision, *quantized])
    name = f"gpu-{label.replace(' ', '-')}-{tag}"
    try:
        run = ftlab.train(ftlab.TrainConfig(**{**budget(args), "precision": precision, **changes}, name=name),
                          progress=False)
    except Exception as exc:  # noqa: BLE001  (a failed row is reported, the others still run)
        return {"requested": label, "error": f"{type(exc).__name__}: {exc}"}
    return {"requested": label, **row(run)}


def qlora_rows(args: argparse.Namespace, tag: str) -> list[dict]:
    """LoRA on the fp32 base against QLoRA (the same LoRA on an NF4 base, bf16 compute): memory and accuracy."""
    import importlib.util

    lora = one_run(args, "auto", tag, method="lora")
    if importlib.util.find_spec("bitsandbytes") is None:
        return [lora, {"requested": "lora auto 4-bit base", "error": "bitsandbytes is not installed here"}]
    return [lora, one_run(args, "auto", tag, method="lora", load_in_bits=4)]


def row(run: dict) -> dict:
    from ftlab import runs

    scale = None
    checkpoint = runs.last_checkpoint(run["run_id"])
    if checkpoint is not None and (checkpoint / "scaler.pt").is_file():
        scale = torch.load(checkpoint / "scaler.pt", weights_only=True).get("scale")
    return {"recorded": run["precision"], "processes": run["world_size"],
            "samples_per_s": run["train_samples_per_second"], "test_accuracy": run["main_metric"]["value"],
            "peak_cuda_mb": run["metrics"].get("peak_cuda_mb"), "wall_s": run["wall_seconds"],
            "loss_scale": float(scale) if scale is not None else None}


def ddp_run(args: argparse.Namespace, tag: str) -> dict:
    """The bf16 budget under torchrun with 2 processes (one GPU each, NCCL)."""
    import ftlab

    name = f"gpu-ddp2-{tag}"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in budget(args).items()]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ftlab.cli", "train", *flags, "--precision=bf16", f"--name={name}", "--json"],
                          capture_output=True, text=True, timeout=900, env=os.environ)
    if done.returncode != 0:
        return {"requested": "bf16 x 2 processes", "error": done.stderr[-800:]}
    report = json.loads((Path(os.environ["FTLAB_HOME"]) / "runs" / name / "distributed.json").read_text())
    return {"requested": "bf16 x 2 processes", **row(ftlab.summary(name)), "backend": report["backend"],
            "shards_disjoint": report["shards_disjoint"], "replicas_identical": report["replicas_identical"]}


def _scale(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare-carry", action="store_true", help="write bench/out/gpu_carry here and stop")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--test-size", type=int, default=1000)
    args = parser.parse_args()
    use_bench_home()
    if args.prepare_carry:
        prepare_carry()
        return
    if not torch.cuda.is_available():
        sys.exit("bench/gpu_paths.py measures the CUDA paths (bf16, fp16 with loss scaling, NCCL) and this machine "
                 "has no CUDA GPU: run it where a GPU is lent. The CPU paths are tested by tests/test_precision.py "
                 "and tests/test_distributed.py.")
    from ftlab.precision import resolve_precision

    source, tag = restore_carry(), time.strftime("%Y%m%d-%H%M%S")
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    rows = [one_run(args, "fp32", tag)]
    rows += [one_run(args, "bf16", tag)] if native_bf16 else []
    rows.append(one_run(args, "fp16", tag))
    rows += qlora_rows(args, tag)
    if torch.cuda.device_count() >= 2:
        rows.append(ddp_run(args, tag))
    for r in rows:
        print(json.dumps(r))
    base = rows[0]["samples_per_s"] or float("nan")
    lines = ["## GPU paths: mixed precision, QLoRA and DDP (bench/gpu_paths.py)", "",
             f"Machine: {machine()}. Model: {source}. Budget: full fine-tuning on rotten_tomatoes, {args.steps} steps "
             f"of batch {args.batch_size} (dynamic padding, length-grouped, padded to a multiple of 8), "
             f"{args.train_size} training and {args.test_size} test reviews. `--precision auto` resolves to "
             f"**{resolve_precision('auto')}** here; bf16 {'is' if native_bf16 else 'is not'} native.", "",
             "| requested | recorded | processes | samples/s | vs fp32 | test accuracy | peak CUDA MB | loss scale |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['requested']} | failed: {r['error'][-200:]!r} | | | | | | |")
            continue
        lines.append(f"| {r['requested']} | {r['recorded']} | {r['processes']} | {r['samples_per_s']:,.0f} | "
                     f"{r['samples_per_s'] / base:.2f}x | {r['test_accuracy']:.3f} | {r['peak_cuda_mb'] or 0:,.0f} | "
                     f"{_scale(r['loss_scale'])} |")
    ddp = next((r for r in rows if "backend" in r), None)
    if ddp:
        lines += ["", f"DDP over {ddp['backend']}: shards disjoint {ddp['shards_disjoint']}, replicas identical "
                      f"{ddp['replicas_identical']} (distributed.json)."]
    write_section("gpu_paths", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
