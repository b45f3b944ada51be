"""Load on `ftlab serve`: requests/s and p50/p95 latency of POST /predict on localhost, one text per request and
batches of 32, at concurrency 1 and 8, for the fp32 model and its int8 copy (`--int8`). Writes the `serve-load`
section of bench/RESULTS.md.

    python bench/serve_load.py            # about 4 min on 2 idle CPU cores (trains a small run the first time)
    python bench/serve_load.py --quick    # a smoke run (numbers mean little)

The server is the real `ftlab serve` process (uvicorn, one worker); the client is an httpx.AsyncClient in this
process, on the same cores, so the figures are what one machine does end to end. Three more fp32 servers change
one thing each, to show why `ftlab serve` is set up as it is (see ftlab/serve/app.py): OpenMP's default wait policy
instead of the passive one `ftlab serve` sets, no model lock, no lock with one intra-op thread; the first two are
measured again beside a torch job that keeps both cores busy (a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import httpx
import numpy as np

from common import load_report, machine, use_bench_home, write_section

RUN_NAME = "serve-load-full"
CELLS = [(1, 1), (1, 8), (32, 1), (32, 8)]
"""(texts per request, concurrent clients)."""
VARIANT = ("import contextlib, sys, torch, uvicorn; from ftlab.serve import create_app; "
           "torch.set_num_threads(int(sys.argv[3])); app = create_app(sys.argv[1]); "
           "app.state.served.lock = app.state.served.lock if sys.argv[4] == 'lock' else contextlib.nullcontext(); "
           "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')")
"""The app of `ftlab serve` with one thing changed, for the comparisons only (never how ftlab serves)."""
VARIANTS = {  # name: (intra-op threads, lock or not, OMP_WAIT_POLICY or None for OpenMP's default)
    "fp32, OpenMP default wait": (os.cpu_count() or 1, "lock", None),
    "fp32 no lock": (os.cpu_count() or 1, "no-lock", "PASSIVE"),
    "fp32 no lock, 1 thread": (1, "no-lock", "PASSIVE"),
}


@dataclass
class Cell:
    variant: str
    batch: int
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    busy: bool = False
    """Measured beside a torch job that keeps both cores busy (a shared machine)."""

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds

    @property
    def p50(self) -> float:
        return float(np.percentile(self.latencies_ms, 50)) if self.latencies_ms else float("nan")

    def row(self) -> str:
        p95 = np.percentile(self.latencies_ms, 95) if self.latencies_ms else float("nan")
        label = self.variant + (", busy machine" if self.busy else "")
        return (f"| {label} | {self.batch} | {self.concurrency} | {self.requests} | {self.rate:.1f} | "
                f"{self.rate * self.batch:.0f} | {self.p50:.0f} | {p95:.0f} | {self.errors} |")


def ensure_run(run: str | None) -> str:
    """The run to serve: --run, else the bench home's `serve-load-full`, trained once (a small full fine-tune)."""
    from ftlab.runs import read_state, run_dir

    run_id = run or RUN_NAME
    if (run_dir(run_id) / "state.json").is_file() and read_state(run_id).status == "finished":
        return run_id
    if run:
        raise SystemExit(f"run {run} is not a finished run of {os.environ['FTLAB_HOME']}")
    command = [sys.executable, "-m", "ftlab.cli", "train", "--json", "--dataset", "rotten_tomatoes", "--method", "full",
               "--train-size", "1000", "--max-steps", "120", "--test-size", "500", "--eval-size", "100",
               "--eval-steps", "120", "--save-steps", "121", "--name", RUN_NAME]
    print(f"== training {RUN_NAME}", flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return RUN_NAME


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(run_id: str, variant: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if variant in VARIANTS:
        threads, lock, wait = VARIANTS[variant]
        command = [sys.executable, "-c", VARIANT, run_id, str(port), str(threads), lock]
        env.update({"OMP_WAIT_POLICY": wait} if wait else {})
    else:
        command = [sys.executable, "-m", "ftlab.cli", "serve", run_id, "--port", str(port), "--max-batch", "32",
                   *(["--int8"] if variant == "int8" else [])]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the {variant} server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the {variant} server did not answer /health in 180 s")


async def load(url: str, texts: list[str], batch: int, concurrency: int, requests: int) -> tuple[float, list, int]:
    """`requests` POST /predict of `batch` texts each, `concurrency` at a time: (seconds, latencies ms, errors)."""
    latencies: list[float] = []
    errors, sent = 0, 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        while sent < requests:
            start = sent * batch
            sent += 1
            body = {"texts": [texts[(start + i) % len(texts)] for i in range(batch)]}
            began = time.perf_counter()
            response = await client.post(f"{url}/predict", json=body)
            if response.status_code == 200:
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await warm_up(client, url, texts[:batch])
        began = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, errors


async def warm_up(client: httpx.AsyncClient, url: str, texts: list[str]) -> None:
    for _ in range(3):  # first calls pay for lazy allocations
        (await client.post(f"{url}/predict", json={"texts": texts})).raise_for_status()


BUSY_JOB = "import torch\nx = torch.randn(512, 512)\nwhile True:\n    x = torch.tanh(x @ x)"
"""A stand-in for a training job beside the server: torch matrix products on every core, forever."""


def measure(run_id: str, variant: str, texts: list[str], sizes: dict[int, int], cells: list,
            busy: bool = False) -> list[Cell]:
    server, url = start_server(run_id, variant)
    neighbour = subprocess.Popen([sys.executable, "-c", BUSY_JOB]) if busy else None
    try:
        results = []
        for batch, concurrency in cells:
            requests = sizes[batch] * (2 if concurrency > 1 else 1)
            seconds, latencies, errors = asyncio.run(load(url, texts, batch, concurrency, requests))
            results.append(Cell(variant, batch, concurrency, requests, seconds, latencies, errors, busy))
            print(results[-1].row(), flush=True)
        return results
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def sample_loads(samples: list[float], stop: threading.Event) -> None:
    while not stop.wait(2):
        samples.append(os.getloadavg()[0])


def section(run_id: str, cells: list[Cell], loads: list[float], seconds: float) -> str:
    from ftlab.records import summary

    record = summary(run_id)
    cell = {(c.variant, c.batch, c.concurrency, c.busy): c for c in cells}
    fp32, int8 = cell[("fp32", 32, 1, False)], cell[("int8", 32, 1, False)]
    lock, no_lock = cell[("fp32", 1, 8, False)], cell[("fp32 no lock", 1, 8, False)]
    passive, spin = cell[("fp32", 1, 1, True)], cell[("fp32, OpenMP default wait", 1, 1, True)]
    one_thread = cell[("fp32 no lock, 1 thread", 32, 1, False)]
    lines = [
        "## Serving load: POST /predict on localhost (bench/serve_load.py)", "",
        f"Machine: {machine()}; {load_report(loads)}. {seconds:.0f} s in all.",
        f"Run `{run_id}`: {record['method']} fine-tune of {record['model']} on {record['dataset']} (test accuracy "
        f"{record['main_metric']['value']:.3f}), served by `ftlab serve` (uvicorn, one process, the model behind one "
        "lock, OpenMP threads that sleep when idle) on 127.0.0.1; texts are the run's test reviews (mean ~27 "
        "tokens). The client (httpx.AsyncClient, keep-alive) shares the cores; latency is per request, client side; "
        "texts/s counts texts in successful requests; int8 is `ftlab serve --int8` (ftlab.compress.quantize: dynamic "
        "int8 Linear layers and word embeddings). The other rows change one thing each, for comparison only; "
        "\"busy machine\": beside a torch job keeping both cores busy, as a training job would.", "",
        "| server | texts/request | concurrency | requests | requests/s | texts/s | p50 ms | p95 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|",
        *[c.row() for c in cells],
        "",
        f"- int8 against fp32, batches of 32 one at a time: {int8.rate * 32:.0f} vs {fp32.rate * 32:.0f} texts/s "
        f"(p50 {int8.p50:.0f} vs {fp32.p50:.0f} ms).",
        f"- The model lock: at concurrency 8, single texts ran {no_lock.rate:.1f} req/s without it and "
        f"{lock.rate:.1f} with it; batches of 32 gain nothing from overlapping (one forward pass already uses both "
        f"cores). One intra-op thread without the lock makes a batch of 32 take {one_thread.p50:.0f} ms instead of "
        f"{fp32.p50:.0f}.",
        f"- OpenMP's wait policy on a busy machine, one request at a time: {passive.rate:.1f} req/s (p50 "
        f"{passive.p50:.0f} ms) with the passive policy `ftlab serve` sets, {spin.rate:.1f} (p50 {spin.p50:.0f} ms) "
        "with the default, whose spinning idle threads take the cores the event loop needs between requests.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help=f"a finished classification run of the bench home (default: {RUN_NAME})")
    parser.add_argument("--requests", type=int, default=150, help="one-text requests per cell at concurrency 1 "
                                                                  "(twice as many at 8)")
    parser.add_argument("--batch-requests", type=int, default=15, help="batch-32 requests per cell at concurrency 1")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.batch_requests = 10, 2
    use_bench_home()
    from ftlab.evaluate import read_split

    run_id = ensure_run(args.run)
    texts = read_split(run_id, "test")["text"].tolist()
    sizes = {1: args.requests, 32: args.batch_requests}
    loads, stop, started = [os.getloadavg()[0]], threading.Event(), time.time()
    sampler = threading.Thread(target=sample_loads, args=(loads, stop), daemon=True)
    sampler.start()
    cells = measure(run_id, "fp32", texts, sizes, CELLS)
    cells += measure(run_id, "int8", texts, sizes, CELLS)
    for variant in VARIANTS:
        cells += measure(run_id, variant, texts, sizes, CELLS)
    for variant in ("fp32", "fp32, OpenMP default wait"):
        cells += measure(run_id, variant, texts, sizes, [(1, 1), (1, 8)], busy=True)
    stop.set()
    body = section(run_id, cells, loads, time.time() - started)
    print(body)
    if not args.quick:
        write_section("serve-load", body)
    print(json.dumps({"run_id": run_id, "cells": len(cells)}))


if __name__ == "__main__":
    main()
