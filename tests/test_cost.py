"""The cost/value report: the FLOPs accounting measured on real models, tokens counted in real training, the
seeds' estimate, money, and the cost-quality frontier."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch

import ftlab
from ftlab.cli import main
from ftlab.cost import compute_shape, cost_report, cost_table, pareto_front, training_flops
from ftlab.methods import get_method
from ftlab.models import load_tokenizer
from ftlab.tasks import get_task

LABELS = ["fresh", "rotten"]


@pytest.fixture(scope="module")
def base() -> torch.nn.Module:
    return get_task("classification").load_model("minilm", LABELS)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _shape(base: torch.nn.Module, tokenizer, method: str, **options) -> dict[str, int]:
    spec = get_method(method)
    return compute_shape(spec.apply(copy.deepcopy(base), spec.make_config(options)), tokenizer)


def _linear_weights(module: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, torch.nn.Linear))


def test_full_fine_tuning_is_six_n_t(base, tokenizer) -> None:
    shape = _shape(base, tokenizer, "full")
    n = _linear_weights(base)
    assert shape["compute_params"] == shape["compute_backward_params"] == n
    # Every non-embedding weight trains: the Linear weights plus their biases and the LayerNorms (under 1% more).
    assert n <= shape["compute_trained_params"] < 1.01 * n


def test_freezing_lower_layers_shortens_the_backward_pass(base, tokenizer) -> None:
    shape = _shape(base, tokenizer, "freeze", layers=2)
    top_two = sum(_linear_weights(layer) for layer in base.bert.encoder.layer[-2:])
    above = top_two + _linear_weights(base.bert.pooler) + _linear_weights(base.classifier)
    assert shape["compute_backward_params"] == above  # the four lower layers need no activation gradients
    assert shape["compute_params"] == _linear_weights(base)


def test_lora_reaches_every_layer_but_trains_little(base, tokenizer) -> None:
    spec = get_method("lora")
    model = spec.apply(copy.deepcopy(base), spec.make_config({}))
    shape = compute_shape(model, tokenizer)
    factors = sum(m.weight.numel() for name, m in model.named_modules()
                  if isinstance(m, torch.nn.Linear) and "lora_" in name)
    # Every Linear output needs a gradient except layer 0's query, key and value projections of the frozen
    # embeddings: LoRA's branch carries the query's and value's gradient, and the key's is never needed.
    first = base.bert.encoder.layer[0].attention.self
    untouched = sum(_linear_weights(m) for m in (first.query, first.key, first.value))
    assert shape["compute_backward_params"] == _linear_weights(base) - untouched + factors
    assert shape["compute_trained_params"] < 0.01 * shape["compute_params"]


def test_a_run_counts_its_real_tokens_and_reports_its_cost(fresh_home, monkeypatch) -> None:
    # 32 reviews, batch 8, 4 steps: exactly one epoch, so the tokens seen are every review's tokens once.
    run = ftlab.train(ftlab.TrainConfig(dataset="rotten_tomatoes", method="full", train_size=32, eval_size=16,
                                        test_size=16, batch_size=8, max_steps=4, eval_steps=4, save_steps=100,
                                        max_length=48, name="cost-full"), progress=False)
    train = ftlab.load_splits(ftlab.TrainConfig(dataset="rotten_tomatoes", train_size=32, eval_size=16,
                                                test_size=16))["train"]
    lengths = [min(len(ids), 48) for ids in load_tokenizer("minilm")(train["text"].tolist())["input_ids"]]
    report = cost_report(run["run_id"], price=3.0)
    assert report["tokens_seen"] == sum(lengths)
    assert report["steps"] == 4 and report["samples_per_step"] == 8 and report["processes"] == 1
    metrics = ftlab.summary(run["run_id"])["metrics"]
    assert report["train_flops"] == training_flops(metrics)
    assert report["train_flops"] == pytest.approx(6 * metrics["compute_params"] * sum(lengths), rel=0.01)
    assert report["flops_formula"].startswith("2·N·T + 2·N_back·T + 2·N_train·T = 6.0")
    assert report["seeds_flops"] == 4 * 8 * 48 * report["total_params"]
    assert report["money"] == pytest.approx(3.0 * report["wall_seconds"] / 3600)
    assert cost_report(run["run_id"])["money"] is None  # no price, no made-up money
    monkeypatch.setenv("FTLAB_PRICE_PER_HOUR", "1.5")
    assert cost_report(run["run_id"])["price_per_device_hour"] == 1.5
    monkeypatch.setenv("FTLAB_PRICE_PER_HOUR", "cheap")
    with pytest.raises(ftlab.UserError, match="FTLAB_PRICE_PER_HOUR='cheap' is not a number"):
        cost_report(run["run_id"])


def test_the_frontier_keeps_the_runs_nobody_beats() -> None:
    table = pd.DataFrame({"run_id": list("abcde"), "train_flops": [1.0, 2.0, 2.0, 4.0, None],
                          "quality": [0.70, 0.80, 0.75, 0.79, 0.99]})
    assert pareto_front(table, "train_flops").tolist() == [True, True, False, False, False]
    with pytest.raises(ftlab.UserError, match="Unknown cost axis 'speed'"):
        pareto_front(table, "speed")


def test_the_cli_reports_several_runs_and_their_frontier(trained_run, capsys) -> None:
    lora = ftlab.train(ftlab.TrainConfig(dataset="rotten_tomatoes", method="lora", train_size=32, eval_size=16,
                                         test_size=16, batch_size=8, max_steps=2, eval_steps=2, save_steps=100,
                                         max_length=32, name="cost-lora"), progress=False)
    capsys.readouterr()
    assert main(["cost", trained_run["run_id"], lora["run_id"], "--price-per-hour", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {row["run_id"]: row for row in result["runs"]}
    assert rows[lora["run_id"]]["trainable_params"] < rows[trained_run["run_id"]]["trainable_params"]
    assert any(row["on_frontier"] for row in result["runs"]) and result["frontier_axis"] == "train_flops"
    assert main(["cost", lora["run_id"]]) == 0
    shown = capsys.readouterr().out
    assert "2·N·T + 2·N_back·T + 2·N_train·T" in shown and "C = B × D × N" in shown and "money" not in shown
    assert cost_table([lora["run_id"]])["quality_metric"].iloc[0] == "test accuracy"
