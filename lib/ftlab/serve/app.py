"""`ftlab serve RUN`: a FastAPI app around one trained run. `POST /predict`, `GET /health`, `GET /info`.

The model is loaded once, when the app is made; every request goes through the task's own `predict` (what
`ftlab predict` calls), under `torch.inference_mode`.

Concurrency, measured in bench/serve_load.py on 2 cores. FastAPI runs the sync endpoint in its thread pool, so
requests overlap in parsing, validation and serialisation; the model call itself takes one lock:
- one forward pass already spreads over every core (torch's intra-op threads), so overlapping passes gains little:
  at concurrency 8, single texts ran 7% more requests/s without the lock (51.7 against 48.5; up to 30% in quieter
  runs), batches of 32 nothing;
- the lock makes the model's thread safety a non-question: hand-wired modules may keep per-pass state (prefix
  tuning caches its prefix across the layers of a pass), and a fast tokenizer's truncation/padding settings are
  one shared object (huggingface/transformers#47085).
`ftlab serve` also makes idle OpenMP threads sleep instead of spin (`cli_serve.before_torch`): beside a busy
process, spinning threads took the cores uvicorn needed between requests (one request at a time: 2.8 req/s
instead of 19.7; on an idle machine both ran alike). Serving this app from your own uvicorn, set OMP_WAIT_POLICY=PASSIVE
before torch is imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ftlab.errors import UserError
from ftlab.serve import DEFAULT_MAX_BATCH, DEFAULT_MAX_CHARS
from ftlab.serve.schemas import Health, Info, Limits, PredictRequest, PredictResponse, input_problems, problem

@dataclass
class ServedRun:
    """A run's model, loaded once, and the lock its requests take turns on."""

    run_id: str
    model: Any
    tokenizer: Any
    config: Any
    labels: list[str]
    task: Any
    int8: bool
    lock: threading.Lock = field(default_factory=threading.Lock)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        import torch

        with self.lock, torch.inference_mode():
            results = self.task.predict(self.model, self.tokenizer, texts, self.labels, self.config)
        return [with_confidence(result) for result in results]


def with_confidence(result: dict[str, Any]) -> dict[str, Any]:
    """The task's prediction, with each label's answer carrying its own probability as `confidence`."""
    if "tasks" in result:
        return {"tasks": {name: with_confidence(answer) for name, answer in result["tasks"].items()}}
    if "probabilities" in result:
        return {**result, "confidence": result["probabilities"][result["label"]]}
    return result


def load_run(run_id: str, *, int8: bool = False) -> ServedRun:
    """The run's model as `ftlab predict` loads it (`load_trained`), or an int8 copy of it."""
    from ftlab.evaluate import load_trained
    from ftlab.serve.export import quantized_copy

    model, tokenizer, config, labels, task = load_trained(run_id)
    if config.task == "sft":
        raise UserError(f"Run '{run_id}' is an sft run: `ftlab serve` answers /predict with labels and "
                        f"probabilities, which a causal LM does not give. Generate with `ftlab generate {run_id} "
                        f"--prompt ...`, or `ftlab export {run_id} OUT` for a transformers text-generation pipeline.")
    if int8:
        model = quantized_copy(model).eval()
    return ServedRun(run_id, model, tokenizer, config, labels, task, int8)


def check_limits(max_batch: int, max_chars: int) -> Limits:
    for flag, value in (("--max-batch", max_batch), ("--max-chars", max_chars)):
        if not isinstance(value, int) or value < 1:
            raise UserError(f"{flag} must be a whole number of 1 or more, got {value!r}; e.g. {flag} "
                            f"{DEFAULT_MAX_BATCH if flag == '--max-batch' else DEFAULT_MAX_CHARS}.")
    return Limits(max_batch=max_batch, max_chars=max_chars)


def create_app(run_id: str, *, int8: bool = False, max_batch: int = DEFAULT_MAX_BATCH,
               max_chars: int = DEFAULT_MAX_CHARS) -> FastAPI:
    """The app serving run `run_id`; raises `UserError` (unknown run, no model yet, bad limits) before serving."""
    from ftlab.serve.export import test_metrics

    limits = check_limits(max_batch, max_chars)
    served = load_run(run_id, int8=int8)
    info = Info(run_id=run_id, model=served.config.model, method=served.config.method, task=served.config.task,
                labels=served.labels, test_metrics=test_metrics(run_id), int8=int8, limits=limits)
    app = FastAPI(title=f"ftlab: {run_id}", description=f"{info.method} fine-tune of {info.model} ({info.task}). "
                  f"Up to {limits.max_batch} texts of up to {limits.max_chars} characters per request.")
    app.state.served = served

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        messages = list(dict.fromkeys(problem(error, limits) for error in errors))
        more = f" ({len(messages) - 3} more problems like these)" if len(messages) > 3 else ""
        return JSONResponse(status_code=422, content={"error": " ".join(messages[:3]) + more,
                                                      "detail": jsonable_encoder(errors)})

    @app.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", run_id=run_id)

    @app.get("/info", response_model=Info)
    def run_info() -> Info:
        return info

    @app.post("/predict", response_model=PredictResponse,
              responses={422: {"description": "Invalid input: `error` says what is wrong and how to fix it."}})
    def predict(request: PredictRequest) -> PredictResponse:
        """Label (or entities) and per-label probabilities of every text, in order."""
        errors = input_problems(request.texts, limits)
        if errors:
            raise RequestValidationError(errors)
        return PredictResponse(run_id=run_id, predictions=served.predict(request.texts))

    return app
