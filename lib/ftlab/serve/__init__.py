"""Serving and export of a trained run: a FastAPI app (`ftlab serve`) and a standalone folder that
`transformers.pipeline` loads (`ftlab export`).

>>> from fastapi.testclient import TestClient
>>> from ftlab.serve import create_app
>>> client = TestClient(create_app("lora-rt-demo"))  # doctest: +SKIP
>>> client.post("/predict", json={"texts": ["A warm, funny film."]}).json()  # doctest: +SKIP
>>> from ftlab.serve import export_run
>>> export_run("lora-rt-demo", "exports/lora-rt")  # doctest: +SKIP
"""

from __future__ import annotations

DEFAULT_MAX_BATCH = 32
"""Most texts in one /predict request unless `--max-batch` says otherwise."""
DEFAULT_MAX_CHARS = 2000
"""Most characters in one text unless `--max-chars` says otherwise (the model reads --max-length tokens anyway)."""

from ftlab.serve.export import EXPORT_FILE, INT8_FILE, PIPELINE_TASKS, export_run, load_export  # noqa: E402

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_CHARS", "EXPORT_FILE", "INT8_FILE", "PIPELINE_TASKS", "ServedRun",
           "create_app", "export_run", "load_export", "load_run"]


def __getattr__(name: str):
    # The app's names import FastAPI on first use, so loading an export needs only torch and transformers.
    if name in ("ServedRun", "create_app", "load_run"):
        from ftlab.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'ftlab.serve' has no attribute {name!r}")
