"""The trainer's plug-in points take effect without editing the trainer: an extra loss term, a custom sampler,
a collator wrapper, a replaced training step, and extra batch columns."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler

import ftlab
from ftlab import tracking

SUBSET = [0, 1, 2, 3]


class FirstFourSampler(Sampler):
    """Yields only four examples, over and over: a sampler the default would never produce."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __iter__(self):
        return iter([SUBSET[i % len(SUBSET)] for i in range(self.size)])

    def __len__(self) -> int:
        return self.size


def test_loss_term_sampler_collator_and_step_plugins_take_effect(fresh_home) -> None:
    seen_ids: list[int] = []
    term_values: list[tuple[float, float]] = []
    steps_taken: list[int] = []

    def logit_penalty(ctx: ftlab.LossContext) -> torch.Tensor:
        assert "length" not in ctx.inputs and "example_id" not in ctx.inputs  # never fed to the model
        penalty = 0.5 * (ctx.outputs.logits - 3.0).pow(2).mean()  # pulls every logit towards 3
        if ctx.model.training:
            term_values.append((float(ctx.loss.detach()), float(penalty.detach())))
            seen_ids.extend(int(i) for i in ctx.extras["example_id"])
        return penalty

    def recording_collator(collate, training):
        def wrapped(features):
            batch = collate(features)
            if training:
                batch["collated_by_plugin"] = torch.ones(1)  # proves the wrapper ran; removed by the step below
            return batch
        return wrapped

    def counting_step(trainer, model, inputs, num_items_in_batch, default_step):
        assert inputs.pop("collated_by_plugin").item() == 1
        steps_taken.append(trainer.state.global_step)
        return default_step(model, inputs, num_items_in_batch)

    plugins = ftlab.Plugins(
        loss_terms={"logit_l2": logit_penalty},
        sampler=lambda dataset, args: FirstFourSampler(len(dataset)),
        collator_wrappers=[recording_collator],
        training_step=counting_step,
        extra_columns=("example_id",),
    )
    config = ftlab.TrainConfig(dataset="rotten_tomatoes", train_size=64, eval_size=32, max_steps=4, batch_size=4,
                               log_steps=1, name="plugins")
    result = ftlab.train(config, plugins=plugins, progress=False)

    assert result["status"] == "finished"
    train_ids = set(ftlab.load_splits(config)["train"]["example_id"].iloc[SUBSET])
    assert set(seen_ids) == train_ids, "the custom sampler chose the batches"
    assert steps_taken == [0, 1, 2, 3], "the training-step plug-in ran every step"
    logged_loss = tracking.metric_history(result["mlflow_run_id"], "loss")
    logged_term = tracking.metric_history(result["mlflow_run_id"], "loss_logit_l2")
    assert [s for s, _, _ in logged_term] == [1, 2, 3, 4]
    task_loss, penalty = term_values[0]
    assert penalty > 1.0
    # The optimised (and logged) loss is the task loss plus the term, not the task loss alone.
    assert abs(logged_loss[0][1] - (task_loss + penalty)) < 1e-3
    assert abs(logged_term[0][1] - penalty) < 1e-3


def test_eval_metric_plugin_gets_each_row_extras_in_prediction_order(fresh_home) -> None:
    """The default preset scores the validation set in length-grouped order: a metric plug-in must receive the
    rows' extra columns in that order, not in the frame's."""
    orders: list[list[int]] = []

    def label_agreement(eval_prediction, extras, metrics) -> dict[str, float]:
        ids = extras["example_id"].tolist()
        orders.append(ids)
        gold = validation.set_index("example_id").loc[ids, "label"].map(labels.index).to_numpy()
        return {"rows_aligned": float((gold == eval_prediction.label_ids).mean()), "seen": float(metrics["accuracy"])}

    config = ftlab.TrainConfig(dataset="rotten_tomatoes", train_size=64, eval_size=48, max_steps=2, batch_size=8,
                               eval_batch_size=8, eval_steps=1, save_steps=1, name="plugins-eval")
    validation = ftlab.load_splits(config)["validation"]
    labels = sorted(validation["label"].astype(str).unique())
    validation = validation.assign(label=validation["label"].astype(str))
    result = ftlab.train(config, plugins=ftlab.Plugins(extra_columns=("example_id",),
                                                       eval_metrics=[label_agreement]), progress=False)

    assert result["status"] == "finished"
    assert len(orders) == 2 and orders[0] == orders[1] and sorted(orders[0]) == sorted(validation["example_id"])
    assert orders[0] != validation["example_id"].tolist(), "the Trainer kept the frame's order: nothing tested"
    history = tracking.metric_history(result["mlflow_run_id"], "eval_rows_aligned")
    assert [value for _, value, _ in history] == [1.0, 1.0]
    accuracy = tracking.metric_history(result["mlflow_run_id"], "eval_accuracy")
    assert [v for _, v, _ in tracking.metric_history(result["mlflow_run_id"], "eval_seen")] == [v for _, v, _ in accuracy]


def test_evaluating_more_often_does_not_change_training(fresh_home) -> None:
    """An evaluation draws from torch's global generator; the trainer restores it, so the training is the same."""
    losses = []
    for eval_steps in (1, 1000):
        config = ftlab.TrainConfig(dataset="rotten_tomatoes", train_size=64, eval_size=16, max_steps=4, batch_size=4,
                                   log_steps=1, eval_steps=eval_steps, save_steps=1000, name=f"plugins-rng-{eval_steps}")
        result = ftlab.train(config, progress=False)
        losses.append([value for _, value, _ in tracking.metric_history(result["mlflow_run_id"], "loss")])
    assert len(losses[0]) == 4 and losses[0] == losses[1]
