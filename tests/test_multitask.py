"""Multi-task learning: one encoder, one head per member dataset, batches from one member at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import set_seed

import ftlab
from ftlab import tracking
from ftlab.evaluate import load_trained
from ftlab.models import load_tokenizer
from ftlab.runs import read_state
from ftlab.tasks import get_task
from ftlab.tasks.multitask import member_blocks
from ftlab.tasks.multitask_sampling import TaskBatchSampler, member_probabilities

LABELS = ["adult_text:<=50K", "adult_text:>50K", "rotten_tomatoes:fresh", "rotten_tomatoes:rotten"]
JOB = dict(task="multitask", dataset="rotten_tomatoes+adult_text", method="full", train_size=64, eval_size=32,
           test_size=32, batch_size=8, max_steps=8, eval_steps=4, save_steps=100, log_steps=2,
           task_sampling="uniform", max_length=64)


@pytest.fixture(scope="module")
def multitask_run(ftlab_home) -> dict:
    return ftlab.train(ftlab.TrainConfig(**JOB, name="multitask-both"), progress=False)


def test_each_members_scores_are_logged_at_every_evaluation(multitask_run: dict) -> None:
    mlflow_id = read_state(multitask_run["run_id"]).mlflow_run_id
    for member in ("rotten_tomatoes", "adult_text"):
        steps = [step for step, _, _ in tracking.metric_history(mlflow_id, f"eval_{member}_accuracy")]
        assert steps == [4, 8], (member, steps)
    metrics = multitask_run["metrics"]
    assert metrics["test_accuracy"] == pytest.approx(
        (metrics["test_rotten_tomatoes_accuracy"] + metrics["test_adult_text_accuracy"]) / 2)


def test_both_heads_and_the_shared_encoder_train(multitask_run: dict) -> None:
    model, _, config, labels, task = load_trained(multitask_run["run_id"])
    assert labels == LABELS
    set_seed(config.seed)  # the trainer's initial head, rebuilt
    initial = task.load_model(config.model, labels)
    for member, rows in member_blocks(labels).items():
        moved = (model.classifier.weight[rows] - initial.classifier.weight[rows]).abs().max()
        assert moved > 0, f"the {member} head never trained"
    assert not torch.equal(model.bert.encoder.layer[0].attention.self.query.weight,
                           initial.bert.encoder.layer[0].attention.self.query.weight)


def test_a_members_batch_trains_its_own_head_only() -> None:
    task = get_task("multitask")
    model = task.load_model("minilm", LABELS)
    batch = dict(load_tokenizer("minilm")(["A warm, funny film.", "Dull."], padding=True, return_tensors="pt"))
    loss = model(**batch, labels=torch.tensor([2, 3])).loss  # two rotten_tomatoes examples
    loss.backward()
    grad = model.classifier.weight.grad
    assert grad[2:].abs().sum() > 0 and grad[:2].abs().sum() == 0, "adult_text's head got a film review's gradient"
    # The loss is the cross-entropy over the member's own two labels, not over all four.
    with torch.no_grad():
        logits = model(**batch).logits[:, 2:]
    assert float(loss.detach()) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))), rel=1e-5)


def test_batches_hold_one_member_and_follow_the_sampling_strategy() -> None:
    members = ["big"] * 900 + ["small"] * 100
    for strategy, temperature, expected_small in [("proportional", 1.0, 0.1), ("uniform", 1.0, 0.5),
                                                  ("temperature", 2.0, 0.25)]:
        probs = member_probabilities({"big": 900, "small": 100}, strategy, temperature)
        sampler = TaskBatchSampler(members, 10, probs, seed=3)
        order = list(sampler)
        batches = [order[i:i + 10] for i in range(0, len(order), 10)]
        assert all(len({members[i] for i in b}) == 1 for b in batches), "a batch mixed members"
        share = np.mean([members[b[0]] == "small" for b in batches])
        exact = 100 ** 0.5 / (900 ** 0.5 + 100 ** 0.5) if strategy == "temperature" else expected_small
        assert share == pytest.approx(exact, abs=0.1), (strategy, share)
    first, second = TaskBatchSampler(members, 10, probs, seed=3), TaskBatchSampler(members, 10, probs, seed=3)
    assert list(first) == list(second), "same seed, same batches"
    assert list(first) != list(TaskBatchSampler(members, 10, probs, seed=4))


def test_predict_answers_with_every_head(multitask_run: dict) -> None:
    result = ftlab.predict(multitask_run["run_id"], ["A warm, funny film."])[0]
    assert set(result["tasks"]) == {"rotten_tomatoes", "adult_text"}
    film = result["tasks"]["rotten_tomatoes"]
    assert film["label"] in ("rotten_tomatoes:fresh", "rotten_tomatoes:rotten")
    assert sum(film["probabilities"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("values,problem", [
    (dict(task="multitask", dataset="rotten_tomatoes+wnut16"), "wnut16 is for another task"),
    (dict(task="multitask", dataset="rotten_tomatoes+"), "joins two or more different datasets"),
    (dict(task="classification", dataset="rotten_tomatoes+adult_text"), "Use --task multitask"),
    (dict(task="multitask", dataset="rotten_tomatoes+adult_text", task_sampling="random"), "--task-sampling"),
    (dict(task="multitask", dataset="rotten_tomatoes+adult_text", sampling_temperature=0.0), "--sampling-temperature"),
    (dict(task="multitask", dataset="rotten_tomatoes+adult_text", method="prefix_tuning", max_steps=1),
     None),
])
def test_bad_multitask_configs_are_refused(values: dict, problem: str | None, fresh_home) -> None:
    from ftlab.train import plan

    if problem is None:  # classification-only methods work per head too: the plan is accepted
        plan(ftlab.TrainConfig(**values))
        return
    with pytest.raises(ftlab.UserError, match=problem):
        plan(ftlab.TrainConfig(**values))


def test_the_cli_prints_each_heads_answer(multitask_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.cli import main

    assert main(["predict", multitask_run["run_id"], "--text", "A warm, funny film."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["adult_text", "rotten_tomatoes"], lines
    assert "rotten_tomatoes:fresh" in lines[1] and "rotten_tomatoes:rotten" in lines[1]
