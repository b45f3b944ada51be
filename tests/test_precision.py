"""Mixed precision: --precision maps onto the Trainer's autocast, and a run records the precision its activations
actually had (a forward hook on the first Linear of the encoder), beside the request."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import fixtures as fx
import ftlab
from ftlab import tracking
from ftlab.errors import UserError
from ftlab.models import load_tokenizer
from ftlab.precision import PrecisionProbe, probe_layer, resolve_precision
from ftlab.tasks import get_task

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="what a machine without a GPU does")


def recorded(run: dict) -> tuple[str, str]:
    """(requested, observed) precision in the tracking store."""
    data = tracking.client().get_run(run["mlflow_run_id"]).data
    return data.params["precision"], data.tags[tracking.TAG + "precision"]


def test_a_bf16_run_records_bf16_observed_from_the_activations(ftlab_home: Path) -> None:
    run = ftlab.train(ftlab.TrainConfig(**fx.PRECISION_RUN, precision="bf16", name="precision-bf16"), progress=False)
    assert run["status"] == "finished" and run["precision"] == "bf16"
    assert recorded(run) == ("bf16", "bf16")
    assert ftlab.summary("precision-bf16")["precision"] == "bf16"


@NO_GPU
def test_auto_runs_and_records_fp32_on_a_cpu(ftlab_home: Path) -> None:
    run = ftlab.train(ftlab.TrainConfig(**fx.PRECISION_RUN, precision="auto", name="precision-auto"), progress=False)
    assert recorded(run) == ("auto", "fp32"), "the record is the observation, not the request"
    assert run["precision"] == "fp32" and run["world_size"] == 1


def test_the_probe_reads_the_dtype_of_training_activations() -> None:
    model = get_task("classification").load_model("minilm", ["neg", "pos"])
    batch = load_tokenizer("minilm")(["a warm, funny film"], return_tensors="pt")
    assert "encoder" in next(n for n, m in model.named_modules() if m is probe_layer(model))
    probe = PrecisionProbe(None)
    model.train()
    for autocast, expected in [(torch.bfloat16, "bf16"), (None, "fp32")]:
        probe.attach(model)
        with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            model(**batch)
        assert probe.observed == expected
    probe.attach(model)
    model.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(**batch)
    assert probe.observed is None, "an evaluation pass is not the training precision"
    probe.detach()


@NO_GPU
def test_fp16_needs_a_cuda_gpu(fresh_home: Path) -> None:
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "bf16"
    with pytest.raises(UserError, match=r"--precision fp16 needs a CUDA GPU.*--precision fp32"):
        ftlab.train(ftlab.TrainConfig(**fx.PRECISION_RUN, precision="fp16", name="fp16"), progress=False)
    assert not (fresh_home / "runs").exists() or not any((fresh_home / "runs").iterdir()), "nothing written"


def test_an_unknown_precision_names_the_choices() -> None:
    with pytest.raises(UserError, match="--precision must be one of fp32, bf16, fp16, auto, got 'fp8'"):
        ftlab.TrainConfig(precision="fp8")
