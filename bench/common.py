"""Shared by the benchmarks: an isolated home, the machine's description, and writing RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"


def use_bench_home() -> Path:
    """Benchmarks write their runs to bench/out/home, sharing the checkout's cached assets."""
    home = BENCH_DIR / "out" / "home"
    home.mkdir(parents=True, exist_ok=True)
    shared = BENCH_DIR.parent / "data" / "assets"
    shared.mkdir(parents=True, exist_ok=True)
    if not (home / "assets").exists():
        (home / "assets").symlink_to(shared, target_is_directory=True)
    os.environ["FTLAB_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return home


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return (f"{os.cpu_count()} CPU cores ({cpu}){gpu}, torch {torch.__version__} with {torch.get_num_threads()} "
            f"threads, Python {platform.python_version()}")


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between `<!-- name:start -->` and `<!-- name:end -->`."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"<!-- {name}:start -->\n{body.rstrip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def load_report(samples: list[float]) -> str:
    """The 1-minute load averages seen during a run: above the core count, other jobs shared the CPU."""
    return (f"load average {min(samples):.1f} to {max(samples):.1f} during the run on {os.cpu_count()} cores"
            f"{' (shared with other jobs: timings are inflated)' if max(samples) > (os.cpu_count() or 1) else ''}")
