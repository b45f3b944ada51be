"""Serving and export on real trained runs: /predict answers like `ftlab predict`, bad input is a 422 that names the
problem, exports reload with `transformers.pipeline` and predict what ftlab predicts, and the real `ftlab serve`
process answers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import fixtures as fx
import ftlab
from ftlab.errors import UserError
from ftlab.runs import read_state
from ftlab.serve import EXPORT_FILE, create_app, export_run, load_export

LIMITS = {"max_batch": 4, "max_chars": 60}


def _train(method: str, **extra) -> str:
    values = {"dataset": "rotten_tomatoes", **fx.SERVE_TINY_RUN, **extra}
    return ftlab.train(ftlab.TrainConfig(method=method, name=f"serve-{method}-{values['dataset']}", **values),
                       progress=False)["run_id"]


@pytest.fixture(scope="module")
def lora_run(ftlab_home: Path) -> str:
    return _train("lora")


@pytest.fixture(scope="module")
def client(lora_run: str) -> TestClient:
    return TestClient(create_app(lora_run, **LIMITS))


def _same(served: list[dict], expected: list[dict], tolerance: float) -> None:
    """The same probabilities within `tolerance`, and so the same label wherever the top two are further apart
    than that (a tiny run's near-even scores may swap their order inside the tolerance)."""
    assert len(served) == len(expected)
    for got, want in zip(served, expected):
        assert got["probabilities"].keys() == want["probabilities"].keys()
        for label, probability in want["probabilities"].items():
            assert got["probabilities"][label] == pytest.approx(probability, abs=tolerance)
        top, second = sorted(want["probabilities"].values(), reverse=True)[:2]
        if top - second > 2 * tolerance:
            assert got["label"] == want["label"], (got, want)


# -- the app -------------------------------------------------------------------------------------------------------

def test_predict_answers_like_ftlab_predict(client: TestClient, lora_run: str) -> None:
    response = client.post("/predict", json={"texts": fx.SERVE_TEXTS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run_id"] == lora_run and len(body["predictions"]) == len(fx.SERVE_TEXTS)
    for prediction in body["predictions"]:
        probabilities = prediction["probabilities"]
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert prediction["label"] == max(probabilities, key=probabilities.get)
        assert prediction["confidence"] == probabilities[prediction["label"]]
    _same(body["predictions"], ftlab.predict(lora_run, fx.SERVE_TEXTS), 1e-9)


def test_health_and_info(client: TestClient, lora_run: str) -> None:
    assert client.get("/health").json() == {"status": "ok", "run_id": lora_run}
    info = client.get("/info").json()
    record = ftlab.summary(lora_run)
    assert (info["run_id"], info["method"], info["task"], info["model"]) == (lora_run, "lora", "classification",
                                                                             "minilm")
    assert info["labels"] == read_state(lora_run).labels == ["fresh", "rotten"] and info["int8"] is False
    assert info["test_metrics"]["accuracy"] == pytest.approx(record["metrics"]["test_accuracy"])
    assert info["limits"] == LIMITS


@pytest.mark.parametrize("body, expected", [
    ({"texts": []}, ["'texts' is an empty list", "at least one text"]),
    ({"texts": ["fine", 5]}, ["texts[1] is a number, not a string"]),
    ({"texts": ["fine", None]}, ["texts[1] is null, not a string"]),
    ({"texts": "one text"}, ["'texts' must be a list of strings, not a string", "wrap it in [...]"]),
    ({"texts": ["fine", "   "]}, ["texts[1] is empty or only whitespace"]),
    ({"texts": ["a"] * 5}, ["5 texts in one request, more than the limit of 4", "--max-batch"]),
    ({"texts": ["fine", "x" * 61]}, ["texts[1] has 61 characters, more than the limit of 60", "--max-chars"]),
    ({"text": ["fine"]}, ["no 'texts' field", '{"texts": [']),
    ("not json", ["not valid JSON"]),
], ids=["empty-list", "number-item", "null-item", "string-not-list", "blank-text", "too-many", "too-long",
        "missing-field", "not-json"])
def test_bad_input_is_422_naming_the_problem(client: TestClient, body, expected: list[str]) -> None:
    sent = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) else {
        "json": body}
    response = client.post("/predict", **sent)
    assert response.status_code == 422, response.text
    answer = response.json()
    for text in expected:
        assert text in answer["error"], answer["error"]
    assert answer["detail"], "the machine-readable errors are kept"


def test_unknown_run_and_bad_limits_are_user_errors(lora_run: str) -> None:
    with pytest.raises(UserError, match="Unknown run 'no-such-run'"):
        create_app("no-such-run")
    with pytest.raises(UserError, match="--max-batch must be a whole number of 1 or more"):
        create_app(lora_run, max_batch=0)


def test_ner_run_serves_entities_and_exports_a_tagger(ftlab_home: Path, tmp_path: Path) -> None:
    import torch
    from transformers import pipeline

    run_id = _train("lora", task="ner", dataset="wnut16")
    client = TestClient(create_app(run_id))
    assert client.get("/info").json()["task"] == "ner"
    response = client.post("/predict", json={"texts": [fx.SERVE_NER_TEXT]})
    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert prediction == ftlab.predict(run_id, [fx.SERVE_NER_TEXT])[0]
    for entity in prediction["entities"]:
        assert fx.SERVE_NER_TEXT[entity["start"]:entity["end"]] == entity["text"]
    # The export is a token classifier whose merged weights give the run's own tag scores.
    assert export_run(run_id, tmp_path / "ner")["pipeline_task"] == "token-classification"
    tagger = pipeline("token-classification", model=str(tmp_path / "ner"), aggregation_strategy="first")
    assert isinstance(tagger(fx.SERVE_NER_TEXT), list)
    model, tokenizer, *_ = ftlab.load_trained(run_id)
    encoded = tokenizer(fx.SERVE_NER_TEXT, return_tensors="pt")
    with torch.inference_mode():
        assert torch.allclose(tagger.model(**encoded).logits, model(**encoded).logits, atol=1e-4)


# -- export ----------------------------------------------------------------------------------------------------------

def _pipeline_predictions(model, texts: list[str], tokenizer=None) -> list[dict]:
    from transformers import pipeline

    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None, device="cpu")
    return [{"label": max(scores, key=lambda s: s["score"])["label"],
             "probabilities": {s["label"]: s["score"] for s in scores}} for scores in classify(texts)]


@pytest.mark.parametrize("run_fixture", ["lora_run", "trained_run"])
def test_export_of_a_mergeable_run_loads_with_pipeline(run_fixture: str, request: pytest.FixtureRequest,
                                                       tmp_path: Path) -> None:
    run = request.getfixturevalue(run_fixture)
    run_id = run if isinstance(run, str) else run["run_id"]
    out = tmp_path / "export"
    out.mkdir()  # an empty folder is accepted
    info = export_run(run_id, out)
    assert info["layout"] == "merged" and info["run_id"] == run_id
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    config = json.loads((out / "config.json").read_text())
    labels = read_state(run_id).labels
    assert config["id2label"] == {str(i): label for i, label in enumerate(labels)}
    assert config["label2id"] == {label: i for i, label in enumerate(labels)}
    saved = json.loads((out / EXPORT_FILE).read_text())
    assert saved["test_metrics"]["accuracy"] == pytest.approx(ftlab.summary(run_id)["metrics"]["test_accuracy"])
    _same(_pipeline_predictions(str(out), fx.SERVE_TEXTS), ftlab.predict(run_id, fx.SERVE_TEXTS), 1e-4)
    assert not list(tmp_path.glob(".*partial*")), "the partial folder was renamed into place"


def test_prompt_tuning_exports_base_and_peft_adapter(ftlab_home: Path, tmp_path: Path) -> None:
    """Virtual tokens cannot be merged: the README's way (peft loads base + adapter, the pipeline takes the model)."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run_id = _train("prompt_tuning")
    out = tmp_path / "export"
    assert export_run(run_id, out)["layout"] == "peft_adapter"
    assert not (out / "config.json").exists(), "the untrained base must not load as if it were the model"
    assert "PeftModel.from_pretrained" in (out / "README.md").read_text()
    model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(out / "base_model"),
                                      out / "adapter")
    tokenizer = AutoTokenizer.from_pretrained(out / "base_model")
    _same(_pipeline_predictions(model.eval(), fx.SERVE_TEXTS, tokenizer), ftlab.predict(run_id, fx.SERVE_TEXTS), 1e-4)


def test_prefix_tuning_exports_base_and_ftlab_tensors(ftlab_home: Path, tmp_path: Path) -> None:
    """Hand-wired prefixes no library hosts: the export says ftlab is needed, and `load_export` rebuilds the model."""
    from transformers import AutoTokenizer

    run_id = _train("prefix_tuning")
    out = tmp_path / "export"
    assert export_run(run_id, out)["layout"] == "ftlab_adapter"
    assert (out / "adapter" / "trained_weights.safetensors").is_file()
    assert "ftlab is needed" in (out / "README.md").read_text()
    tokenizer = AutoTokenizer.from_pretrained(out / "base_model")
    _same(_pipeline_predictions(load_export(out), fx.SERVE_TEXTS, tokenizer), ftlab.predict(run_id, fx.SERVE_TEXTS),
          1e-4)


def test_export_never_overwrites(lora_run: str, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="already exists and is not empty"):
        export_run(lora_run, tmp_path)
    with pytest.raises(UserError, match="is a file"):
        export_run(lora_run, tmp_path / "mine.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_int8_serve_and_export(lora_run: str, tmp_path: Path) -> None:
    import torch

    from ftlab.serve import INT8_FILE

    client = TestClient(create_app(lora_run, int8=True))
    assert client.get("/info").json()["int8"] is True
    # One text per request, as the pipeline runs them: int8 activations are scaled per batch, padding included.
    served = [client.post("/predict", json={"texts": [text]}).json()["predictions"][0] for text in fx.SERVE_TEXTS]
    assert all(sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-6) for p in served)
    out = tmp_path / "int8"
    assert export_run(lora_run, out, int8=True)["layout"] == "int8"
    assert (out / "model_int8.pt").is_file() and not (out / "model.safetensors").exists()

    # The same quantization: every packed weight, row scale and float tensor of the export is the served model's.
    exported_state = torch.load(out / INT8_FILE, weights_only=True)
    served_state = client.app.state.served.model.state_dict()
    assert exported_state.keys() == served_state.keys()
    def as_float(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.dequantize() if tensor.is_quantized else tensor

    for name, tensor in exported_state.items():
        if isinstance(tensor, torch.Tensor):
            assert torch.equal(as_float(tensor), as_float(served_state[name])), name

    # Exported and served predict alike. (Before the export held its int8 copy until saved, the embedding's row
    # scales came from freed memory: the state check above failed, and predictions drifted by up to 8e-3.)
    from transformers import AutoTokenizer

    exported = _pipeline_predictions(load_export(out), fx.SERVE_TEXTS, AutoTokenizer.from_pretrained(out))
    _same(exported, served, 1e-4)


# -- the real server -------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ftlab_serve_process_answers_on_localhost(lora_run: str) -> None:
    import psutil

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "ftlab.cli", "serve", lora_run, "--port", str(port)],
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"the server exited: {server.stderr.read()}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no /health within 120 s"
            time.sleep(0.5)
        listening = {c.laddr.ip for c in psutil.Process(server.pid).net_connections("inet") if c.status == "LISTEN"}
        assert listening == {"127.0.0.1"}
        response = httpx.post(f"{url}/predict", json={"texts": fx.SERVE_TEXTS[:1]}, timeout=30)
        assert response.status_code == 200, response.text
        _same(response.json()["predictions"], ftlab.predict(lora_run, fx.SERVE_TEXTS[:1]), 1e-5)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, server.stderr.read()
