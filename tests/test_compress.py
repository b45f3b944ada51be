"""`ftlab compress`: pruning and int8 quantization of real fine-tuned runs, measured on the saved, reloaded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import fixtures as fx
import ftlab
from ftlab import tracking
from ftlab.cli import main
from ftlab.compress import (QUANTIZED_FILE, compress_run, is_int8, measure_sparsity, prunable_linears,
                            quantize_dynamic_int8)
from ftlab.compress.prune import expected_zeros
from ftlab.config import TrainConfig
from ftlab.errors import UserError
from ftlab.evaluate import predictions


@pytest.fixture(scope="module")
def parent(ftlab_home: Path) -> str:
    return ftlab.train(TrainConfig(**fx.COMPRESS_PARENT), progress=False)["run_id"]


@pytest.fixture(scope="module")
def pruned(parent: str) -> dict:
    """The parent pruned to 50%, without and with a short fine-tune (the masks held)."""
    return {"plain": compress_run(parent, prune=fx.COMPRESS_SPARSITY, latency_repeats=1),
            "tuned": compress_run(parent, prune=fx.COMPRESS_SPARSITY, prune_finetune_steps=fx.COMPRESS_FINETUNE_STEPS,
                                  latency_repeats=1)}


def _weights(run_id: str) -> dict[str, torch.Tensor]:
    model = ftlab.load_trained(run_id)[0]
    return {name: layer.weight.detach().clone() for name, layer in prunable_linears(model)}


def test_pruned_sparsity_after_save_and_reload_is_the_target(pruned: dict) -> None:
    for result in pruned.values():
        folder = ftlab.home() / "runs" / result["run_id"] / "model"
        assert (folder / "model.safetensors").is_file()  # a whole fp32 model: reloaded like a full fine-tune's
        model = ftlab.load_trained(result["run_id"])[0]
        sparsity = measure_sparsity(model)
        assert sparsity.total == fx.MINILM_ENCODER_LINEAR_WEIGHTS
        assert sparsity.zeros == expected_zeros(sparsity.total, fx.COMPRESS_SPARSITY)
        assert result["compression"]["sparsity"] == pytest.approx(fx.COMPRESS_SPARSITY, abs=1e-6)
        # The classifier and embeddings were left alone.
        assert int((model.classifier.weight == 0).sum()) == 0
        assert int((model.get_input_embeddings().weight == 0).sum()) < 10
        # Dense zeros cost as much as any other number; zipped, the pruned file is much smaller.
        report = result["compression"]
        assert report["size_mb"] == pytest.approx(report["reference_size_mb"], rel=0.01)
        assert report["size_zipped_mb"] < 0.9 * report["reference_size_zipped_mb"]


def test_fine_tune_keeps_pruned_weights_at_zero(pruned: dict) -> None:
    before, after = _weights(pruned["plain"]["run_id"]), _weights(pruned["tuned"]["run_id"])
    changed = 0
    for name, weight in before.items():
        # Same parent, same global ranking: the same weights were pruned, and they stayed zero through the steps.
        assert torch.equal(weight == 0, after[name] == 0), name
        changed += int((weight != after[name]).sum())
    assert changed > 0.5 * sum(w.numel() for w in before.values()) * (1 - fx.COMPRESS_SPARSITY)  # it did train
    record = ftlab.summary(pruned["tuned"]["run_id"])
    assert record["param_counts"]["trainable"] == record["param_counts"]["total"]  # every weight trained
    losses = tracking.metric_history(record["mlflow_run_id"], "loss")  # the Trainer's steps, in the run's record
    assert [step for step, _, _ in losses][-1] == fx.COMPRESS_FINETUNE_STEPS


def test_int8_run_agrees_with_fp32_reloads_with_weights_only_and_predicts(
        parent: str, capsys: pytest.CaptureFixture[str]) -> None:
    parent_table, _ = predictions(parent, "test")
    assert parent_table["predicted"].nunique() == 2, "the parent must predict both classes for agreement to mean much"

    capsys.readouterr()
    assert main(["compress", parent, "--int8", "--name", "compress-parent-8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    run_id, report = result["run_id"], result["compression"]
    table, _ = predictions(run_id, "test")
    agreement = float((table["predicted"].to_numpy() == parent_table["predicted"].to_numpy()).mean())
    assert agreement >= 0.95 and report["agreement_with_parent"] == pytest.approx(agreement)
    assert abs(report["test_accuracy_vs_parent"]) < 0.03
    assert report["size_ratio"] > 3  # the Linear layers and the word embeddings in int8

    folder = ftlab.home() / "runs" / run_id / "model"
    assert not list(folder.glob("*.safetensors"))
    state = torch.load(folder / QUANTIZED_FILE, weights_only=True)  # no pickled code needed
    assert any(key.endswith("_packed_params._packed_params") for key in state)
    model = ftlab.load_trained(run_id)[0]
    assert is_int8(model)
    [answer] = ftlab.predict(run_id, [fx.SERVE_TEXTS[0]])
    assert answer["label"] in ("fresh", "rotten") and sum(answer["probabilities"].values()) == pytest.approx(1)

    # Explained like any run, by the methods that need no gradients (int8 kernels have none).
    assert main(["explain", run_id, "--text", fx.SERVE_TEXTS[0], "--shap-evals", "20", "--lime-samples", "30",
                 "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["attributions"]) == {"shap", "lime"}
    assert main(["explain", run_id, "--text", fx.SERVE_TEXTS[0], "--explainer", "ig"]) == 2
    assert "int8 layers have none" in capsys.readouterr().err

    # The new run is listed with its parent, and the parent is unchanged.
    assert main(["runs", "--json"]) == 0
    listed = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[run_id]["parent"] == parent and listed[run_id]["method"] == "full+int8"
    assert listed[run_id]["main_metric"]["value"] == pytest.approx(report["test_accuracy"])
    assert listed[parent]["parent"] is None and listed[parent]["status"] == "finished"
    assert main(["runs"]) == 0
    assert f"from {parent}" in next(line for line in capsys.readouterr().out.splitlines() if line.startswith(run_id))


def test_quantize_dynamic_int8_leaves_the_model_alone(parent: str) -> None:
    model = ftlab.load_trained(parent)[0]
    int8 = quantize_dynamic_int8(model)
    assert is_int8(int8) and not is_int8(model)
    assert is_int8(int8.get_input_embeddings())  # the word embeddings, one scale per row
    linear_only = quantize_dynamic_int8(model, embeddings=False)
    assert is_int8(linear_only) and not is_int8(linear_only.get_input_embeddings())


@pytest.mark.parametrize("method", ["lora", "adapters", "distill"])
def test_merged_injected_and_distilled_runs_compress_and_reload(method: str, parent: str) -> None:
    """LoRA is merged into the weights first; adapters keep their modules (the method is applied again on reload)
    and are not pruned; a distilled student keeps its 3 layers."""
    options = {"teacher": parent} if method == "distill" else {}
    tiny = ftlab.train(TrainConfig(**{**fx.TINY_JOB, "method": method, "test_size": 32, "method_options": options,
                                      "name": f"compress-{method}"}), progress=False)["run_id"]
    result = compress_run(tiny, prune=0.3, int8=True, latency_repeats=1)
    assert result["run_id"] == f"{tiny}-prune30-int8"
    model = ftlab.load_trained(result["run_id"])[0]
    assert is_int8(model) and not hasattr(model, "peft_config")
    assert len(model.bert.encoder.layer) == (3 if method == "distill" else 6)
    # int8 rounds some small weights to zero as well: at least the pruned ones are zero.
    assert measure_sparsity(model).fraction >= 0.3
    if method == "adapters":
        adapter = model.bert.encoder.layer[0].output.adapter_feed_forward
        assert is_int8(adapter)
        assert all("adapter" not in name for name, _ in prunable_linears(model))
    [answer] = ftlab.predict(result["run_id"], [fx.SERVE_TEXTS[1]])
    assert set(answer["probabilities"]) == {"fresh", "rotten"}


def test_ner_run_compresses(ner_runs: dict, capsys: pytest.CaptureFixture[str]) -> None:
    parent = ner_runs["full"]["run_id"]
    capsys.readouterr()
    assert main(["compress", parent, "--int8"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"run {parent}-int8 from {parent} (int8): finished")
    for text in ("test micro_f1", "same prediction as the parent on", "size ", "latency batch 1", "torch threads"):
        assert text in printed, printed
    record = ftlab.summary(f"{parent}-int8")
    assert record["task"] == "ner" and 0 <= record["metrics"]["agreement_with_parent"] <= 1
    [answer] = ftlab.predict(f"{parent}-int8", [fx.SERVE_NER_TEXT])
    assert isinstance(answer["entities"], list)


# -- refusals that need a run folder of a kind the bad-input table cannot make ------------------------------------

def _fake_run(home: Path, name: str, status: str, method: str) -> None:
    folder = home / "runs" / name
    (folder / "model").mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"run_id": name, "status": status, "labels": ["neg", "pos"]}))
    (folder / "config.yaml").write_text(TrainConfig(name=name, method=method).to_yaml())


@pytest.mark.parametrize("status, method, expected", [
    ("failed", "full", ["'fake' is failed", "only a finished run", "ftlab train --resume fake"]),
    ("finished", "prompt_tuning", ["--method prompt_tuning cannot be compressed", "merged", "lora"]),
    ("finished", "p_tuning", ["--method p_tuning cannot be compressed"]),
])
def test_refused_runs(fresh_home: Path, status: str, method: str, expected: list[str]) -> None:
    _fake_run(fresh_home, "fake", status, method)
    with pytest.raises(UserError) as caught:
        compress_run("fake", int8=True)
    for text in expected:
        assert text in str(caught.value)
    assert sorted(p.name for p in (fresh_home / "runs").iterdir()) == ["fake"]  # nothing was created


def test_int8_run_cannot_be_compressed_again(fresh_home: Path) -> None:
    _fake_run(fresh_home, "fake-int8", "finished", "full")
    (fresh_home / "runs" / "fake-int8" / "model" / QUANTIZED_FILE).write_bytes(b"")
    (fresh_home / "runs" / "fake-int8" / "model" / "compression.json").write_text('{"parent": "fake"}')
    with pytest.raises(UserError, match="already quantized; compress its fp32 parent 'fake'"):
        compress_run("fake-int8", prune=0.5)
