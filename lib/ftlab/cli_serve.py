"""`ftlab serve` (a run behind an HTTP API on localhost) and `ftlab export` (a folder `transformers.pipeline` loads);
the logic lives in `ftlab.serve`."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import sys
from typing import Any

from ftlab.errors import UserError

log = logging.getLogger("ftlab")

LOCALHOST = "127.0.0.1"


def add_serve_parsers(sub: Any) -> None:
    from ftlab.serve import DEFAULT_MAX_BATCH, DEFAULT_MAX_CHARS

    serve = sub.add_parser(
        "serve", help="serve a run over HTTP: POST /predict, GET /health, GET /info (localhost only by default)",
        description="Start a FastAPI app (uvicorn) around a trained run: POST /predict with {\"texts\": [...]} "
                    "returns each text's label, probabilities and confidence (entities for NER runs); GET /health "
                    "and GET /info (model, method, labels, test metrics, limits); interactive docs at /docs.")
    serve.add_argument("run", metavar="RUN")
    serve.add_argument("--host", default=None, help=f"address to listen on ({LOCALHOST}: this machine only; "
                                                    "any other exposes the model to the network)")
    serve.add_argument("--port", type=int, default=8000, metavar="N", help="port (8000)")
    serve.add_argument("--int8", action="store_true", help="serve a dynamically int8-quantized copy (faster on CPU)")
    serve.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH, metavar="N",
                       help=f"most texts per request ({DEFAULT_MAX_BATCH})")
    serve.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, metavar="N",
                       help=f"most characters per text ({DEFAULT_MAX_CHARS})")
    serve.add_argument("--json", action="store_true")

    export = sub.add_parser(
        "export", help="write a run as a standalone folder that transformers.pipeline loads",
        description="Write RUN to the new folder OUT: merged weights as safetensors where the method merges (full, "
                    "freeze, BitFit, LoRA, IA3), else the base model + the adapter; the tokenizer, the label map, "
                    "a README.md with the exact loading code and ftlab_export.json. OUT must not exist or be empty.")
    export.add_argument("run", metavar="RUN")
    export.add_argument("out", metavar="OUT", help="the folder to create")
    export.add_argument("--int8", action="store_true", help="save a dynamically int8-quantized state dict instead "
                                                            "(torch.save; loaded with weights_only=True)")
    export.add_argument("--json", action="store_true")


def before_torch(argv: list[str]) -> None:
    """`ftlab serve` only: idle OpenMP threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE). OpenMP reads it
    once, when torch loads it, so it is set first. Spinning threads starve uvicorn's event loop between requests:
    beside a busy process, one-text requests one at a time ran 2.8 req/s instead of 19.7 (bench/RESULTS.md)."""
    if argv[:1] == ["serve"] and "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, got {port}; e.g. --port 8000.")


def check_free(host: str, port: int) -> None:
    """A clear error for a taken port before the model loads (uvicorn would only log it and exit)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another --port, e.g. "
                            f"--port {port + 1}.") from exc


def cmd_serve(args: argparse.Namespace) -> dict[str, Any]:
    import uvicorn

    from ftlab.runs import read_state
    from ftlab.serve.app import create_app

    check_port(args.port)
    host = args.host or LOCALHOST
    read_state(args.run)  # an unknown run is named before anything loads
    check_free(host, args.port)
    if not _loopback(host):
        log.warning("listening on %s: anyone who can reach this machine on port %d can query the model; "
                    "there is no authentication. Leave --host out to serve this machine only.", host, args.port)
    app = create_app(args.run, int8=args.int8, max_batch=args.max_batch, max_chars=args.max_chars)
    url = f"http://{f'[{host}]' if ':' in host else host}:{args.port}"
    log.info("serving run %s%s at %s (docs: %s/docs); Ctrl-C stops it", args.run, " (int8)" if args.int8 else "",
             url, url)
    uvicorn.run(app, host=host, port=args.port, log_level="warning")
    return {"run_id": args.run, "url": url, "status": "stopped"}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    from ftlab.serve.export import export_run

    info = export_run(args.run, args.out, int8=args.int8)
    return {k: v for k, v in info.items() if k != "config"}


def print_serve(command: str, result: dict[str, Any]) -> None:
    if command == "serve":
        print(f"run {result['run_id']}: server at {result['url']} stopped")
        return
    print(f"run {result['run_id']} exported to {result['path']} ({result['layout']}: {result['how']}); "
          f"loading code in {result['path']}/README.md")
