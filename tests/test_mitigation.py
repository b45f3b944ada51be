"""Bias mitigation in training (`ftlab.mitigation`): the penalties reach the loss and its gradient, reweighing
samples with Kamiran-Calders weights, real runs log their terms, and bad options are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from scipy.special import softmax

import fixtures as fx
import ftlab
from ftlab import tracking
from ftlab.cli import main
from ftlab.config import TrainConfig
from ftlab.data import get_dataset
from ftlab.errors import UserError
from ftlab.mitigation import (GROUP_COL, TrainingGroups, demographic_parity_penalty, group_gap, list_mitigations,
                              mitigation_plugins, reweigh_sampler, with_group_codes)
from ftlab.mitigation.validation import group_disparities
from ftlab.models import load_tokenizer
from ftlab.plugins import Plugins
from ftlab.tasks import get_task

ADULT_LABELS = ["<=50K", ">50K"]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return get_dataset("adult_text").load()


@pytest.fixture(scope="module")
def adult_table(adult: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 adult_text rows as a table file: its test split is 120 rows, so scoring a run stays fast."""
    path = tmp_path_factory.mktemp("mitigation") / "adult.parquet"
    adult.head(1200).assign(label=lambda f: f["label"].map(fx.ADULT_INCOME_NAMES)).to_parquet(path)
    return path


def _config(**values) -> TrainConfig:
    return TrainConfig(dataset="adult_text", sensitive_col="sex", **values)


# -- the penalties reach the loss and the gradient -----------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory):
    """The embedded model with a seeded head, dropout off (so two forwards of one batch agree), and a trainer's
    arguments to build `FtlabTrainer`s around it."""
    from transformers import TrainingArguments, set_seed

    set_seed(0)
    model = get_task("classification").load_model("minilm", ADULT_LABELS).eval()
    # The head's gradient is enough to show what the optimiser gets; the encoder's backward would cost seconds.
    model.base_model.requires_grad_(False)
    args = TrainingArguments(output_dir=str(tmp_path_factory.mktemp("trainer")), report_to="none",
                             remove_unused_columns=False)
    return model, load_tokenizer("minilm"), args


def _loss_and_grad(minilm, train: pd.DataFrame, rows: pd.DataFrame, config: TrainConfig, *, penalised: bool):
    """The trainer's loss on `rows` as one batch, with the loss terms of the mitigation built on `train` or
    without them, the gradient of the classifier weight, and the logits."""
    from ftlab.trainer import FtlabTrainer

    model, tokenizer, args = minilm
    task = get_task("classification")
    frame = with_group_codes(config, {"train": train, "batch": rows})["batch"]
    plugins = mitigation_plugins(config, train, ADULT_LABELS)
    dataset = task.encode(frame, tokenizer, config, ADULT_LABELS, plugins.extra_columns)
    batch = task.collator(tokenizer, config)([dataset[i] for i in range(len(dataset))])
    trainer = FtlabTrainer(model=model, args=args, plugins=plugins if penalised else
                           Plugins(extra_columns=plugins.extra_columns))
    model.zero_grad()
    loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
    loss.backward()
    return float(loss.detach()), model.classifier.weight.grad.clone(), outputs.logits.detach().numpy()


def _squared_gap(probability: np.ndarray, groups: pd.Series) -> float:
    means = pd.Series(probability).groupby(groups.to_numpy()).mean()
    return float(means.max() - means.min()) ** 2 if len(means) > 1 else 0.0


def _cost_weighted_term(probability: np.ndarray, rows: pd.DataFrame, train: pd.DataFrame, lam: float) -> float:
    """dp-penalty's term worked out apart from the library: men (the higher >50K rate) pay lam / P(Male) for a
    positive answer, women lam / P(Female) less; each row's cross-entropy is weighted toward its cheaper answer."""
    share = train["sex"].value_counts(normalize=True)
    shift = rows["sex"].map({"Male": lam / share["Male"], "Female": -lam / share["Female"]}).to_numpy()
    positive = (rows["label"] == ">50K").to_numpy().astype(float)
    cost_positive, cost_negative = 1 - positive + shift, positive
    target, weight = (cost_positive < cost_negative).astype(float), np.abs(cost_positive - cost_negative)

    def bce(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))

    return float(np.mean(weight * bce(probability, target)) - np.mean(bce(probability, positive)))


@pytest.mark.parametrize(("mitigation", "weight"), [("dp-penalty", 0.35), ("dp-penalty", 2.0), ("eo-penalty", 50.0)])
def test_penalty_changes_the_loss_and_its_gradient(minilm, adult: pd.DataFrame, mitigation: str,
                                                   weight: float) -> None:
    """The acceptance item: with a penalty the training loss on the same batch differs from the plain loss by
    exactly the penalty's term, and so do the parameter gradients (the penalty reaches the optimiser). dp-penalty
    at 2.0 is past women's share of the rows: their negative rows are trained toward >50K."""
    rows, train = adult.iloc[fx.ADULT_BATCH_ROWS].reset_index(drop=True), adult.head(1000)
    assert set(rows["sex"]) == {"Female", "Male"} and set(rows["label"]) == set(ADULT_LABELS)
    config = _config(mitigation=mitigation, penalty_weight=weight)
    plain, plain_grad, logits = _loss_and_grad(minilm, train, rows, config, penalised=False)
    penalised, penalised_grad, _ = _loss_and_grad(minilm, train, rows, config, penalised=True)

    probability = softmax(logits.astype(np.float64), axis=-1)[:, ADULT_LABELS.index(">50K")]
    if mitigation == "dp-penalty":
        expected = _cost_weighted_term(probability, rows, train, weight)
    else:
        expected = weight * sum(_squared_gap(probability[rows["label"] == y], rows["sex"][rows["label"] == y])
                                for y in ADULT_LABELS)
    assert abs(expected) > 1e-5
    assert penalised - plain == pytest.approx(expected, rel=1e-3, abs=1e-6)
    assert not torch.allclose(plain_grad, penalised_grad)
    assert (penalised_grad - plain_grad).norm() > 1e-3 * plain_grad.norm()


def test_dp_penalty_pushes_the_groups_apart_the_right_way(minilm, adult: pd.DataFrame) -> None:
    """Its gradient raises P(>50K) for women and lowers it for men (the lower-rate group up, the higher down), and a
    weight of 0 adds nothing."""
    from ftlab.mitigation import parity_cost_shifts

    rows, train = adult.iloc[fx.ADULT_BATCH_ROWS].reset_index(drop=True), adult.head(1000)
    groups = TrainingGroups.of(_config(mitigation="dp-penalty"), train, ADULT_LABELS)
    shifts = parity_cost_shifts(groups)
    share = train["sex"].value_counts(normalize=True)
    assert shifts.tolist() == pytest.approx([-1 / share["Female"], 1 / share["Male"]])  # codes: Female, Male
    logits = torch.zeros(len(rows), 2, requires_grad=True)
    labels = torch.tensor(rows["label"].map(ADULT_LABELS.index).to_numpy())
    codes = torch.tensor((rows["sex"] == "Male").to_numpy()).long()
    term = demographic_parity_penalty(logits, labels, codes, groups.positive, shifts, 0.35)
    term.backward()
    toward_positive = -(logits.grad[:, 1] - logits.grad[:, 0])  # a descent step's change in the >50K margin
    assert (toward_positive[codes == 0] > 0).all() and (toward_positive[codes == 1] < 0).all()
    assert float(demographic_parity_penalty(logits.detach(), labels, codes, groups.positive, shifts, 0.0)) == \
        pytest.approx(0.0, abs=1e-7)


def test_a_batch_of_one_group_adds_nothing(minilm, adult: pd.DataFrame) -> None:
    rows = adult.iloc[fx.ADULT_MEN_ROWS].reset_index(drop=True)
    config = _config(mitigation="eo-penalty", penalty_weight=50.0)
    # The groups come from the training split, so "Female" is a known group that is absent from the batch.
    frame = with_group_codes(config, {"train": adult.head(1000), "batch": rows})["batch"]
    assert set(frame[GROUP_COL]) == {1} and list(frame["sex"]) == ["Male"] * len(rows)
    plain, plain_grad, _ = _loss_and_grad(minilm, adult.head(1000), rows, config, penalised=False)
    penalised, penalised_grad, _ = _loss_and_grad(minilm, adult.head(1000), rows, config, penalised=True)
    assert penalised == plain
    assert torch.equal(plain_grad, penalised_grad)


def test_group_gap_skips_absent_and_unknown_groups() -> None:
    values = torch.tensor([0.2, 0.4, 0.9, 0.5, 1.0])
    groups = torch.tensor([0, 0, 2, 2, -1])  # group 1 absent; -1 is a value the training split did not have
    assert float(group_gap(values, groups)) == pytest.approx(0.7 - 0.3)
    assert float(group_gap(values[:2], groups[:2])) == 0.0
    three = torch.tensor([0, 1, 2, 1, 2])
    assert float(group_gap(values, three)) == pytest.approx(0.95 - 0.2)  # the largest pairwise gap


def test_positive_label_is_the_training_minority(adult: pd.DataFrame) -> None:
    groups = TrainingGroups.of(_config(mitigation="dp-penalty"), adult.head(1000), ADULT_LABELS)
    assert ADULT_LABELS[groups.positive] == ">50K"
    assert groups.names == ["Female", "Male"]


# -- reweighing ------------------------------------------------------------------------------------------------

def test_reweigh_weights_are_kamiran_calders() -> None:
    frame = pd.DataFrame(fx.KC_ROWS, columns=["sex", "label"]).assign(text="someone")
    config = TrainConfig(sensitive_col="sex", mitigation="reweigh")
    plugins = mitigation_plugins(config, frame, ["high", "low"])
    assert not plugins.loss_terms and plugins.sampler is not None
    sampler = plugins.sampler(list(range(len(frame))), None)
    expected = [fx.KC_WEIGHTS[row] for row in fx.KC_ROWS]
    assert sampler.weights.tolist() == pytest.approx(expected)
    assert len(list(sampler)) == len(frame)


def test_reweigh_sampler_is_seeded(adult: pd.DataFrame) -> None:
    rows = adult.head(500)

    def draw(seed: int) -> list[int]:
        plugins = mitigation_plugins(_config(mitigation="reweigh", seed=seed), rows, ADULT_LABELS)
        return list(plugins.sampler(rows, None))

    first = draw(1)
    assert draw(1) == first
    assert draw(2) != first


def test_reweighed_batches_make_group_and_label_independent(adult: pd.DataFrame) -> None:
    rows = adult.head(3000)
    groups = TrainingGroups.of(_config(mitigation="reweigh"), rows, ADULT_LABELS)
    sampler = mitigation_plugins(_config(mitigation="reweigh"), rows, ADULT_LABELS).sampler(rows, None)
    drawn = np.concatenate([list(sampler) for _ in range(20)])  # 60,000 draws: 20 epochs of one generator

    def label_rate_gap(positions: np.ndarray) -> float:
        is_rich = groups.labels[positions] == groups.positive
        return demographic_parity_difference(is_rich, is_rich, sensitive_features=rows["sex"].to_numpy()[positions])

    raw = label_rate_gap(np.arange(len(rows)))
    assert raw > 0.15  # men earn >50K far more often than women in the census
    assert label_rate_gap(drawn) < 0.02


def test_reweigh_run_draws_its_batches_from_the_seeded_sampler(adult_table: Path) -> None:
    seen: list[int] = []

    def spy(ctx: ftlab.LossContext) -> torch.Tensor:
        if ctx.model.training:
            seen.extend(int(i) for i in ctx.extras["example_id"])
        return ctx.loss.new_zeros(())

    config = TrainConfig(data=str(adult_table), sensitive_col="sex", mitigation="reweigh", method="lora",
                         train_size=256, eval_size=16, max_steps=4, batch_size=8, log_steps=2, seed=7,
                         name="mitigation-reweigh")
    result = ftlab.train(config, plugins=Plugins(loss_terms={"spy": spy}, extra_columns=("example_id",)),
                         progress=False)

    assert result["status"] == "finished"
    train = ftlab.load_splits(config)["train"]
    labels = sorted(fx.ADULT_INCOME_NAMES.values())
    weights = mitigation_plugins(config, train, labels).sampler(train, None).weights.numpy()
    expected = train["example_id"].to_numpy()[list(reweigh_sampler(weights, 7))[:4 * 8]]
    assert seen == expected.tolist()
    params = tracking.client().get_run(result["mlflow_run_id"]).data.params
    assert (params["mitigation"], params["sensitive_col"]) == ("reweigh", "sex")


# -- real runs log the penalty ------------------------------------------------------------------------------------

def test_dp_penalty_run_logs_its_term(adult_table: Path) -> None:
    config = TrainConfig(data=str(adult_table), sensitive_col="sex", mitigation="dp-penalty", method="lora",
                         train_size=256, eval_size=16, max_steps=4, batch_size=8, log_steps=2,
                         name="mitigation-dp")
    result = ftlab.train(config, progress=False)
    assert result["status"] == "finished"
    history = tracking.metric_history(result["mlflow_run_id"], "loss_dp_penalty")
    assert [step for step, _, _ in history] == [1, 2, 4]
    # Weighted minus plain cross-entropy: either sign, never exactly 0 on a batch of both sexes.
    assert all(abs(value) < 1 for _, value, _ in history) and any(value != 0 for _, value, _ in history)
    params = tracking.client().get_run(result["mlflow_run_id"]).data.params
    assert params["penalty_weight"] == "None"  # as the user set it: dp-penalty's own default
    assert params["penalty_weight_used"] == "0.35"


def _short_full_run(adult_table: Path, name: str, **values) -> dict:
    """12 steps of full fine-tuning: enough for the model to start answering >50K for some validation rows."""
    config = TrainConfig(data=str(adult_table), sensitive_col="sex", method="full", train_size=256, eval_size=96,
                         max_steps=12, batch_size=8, save_total_limit=1, log_steps=3, learning_rate=5e-4, name=name,
                         **values)
    result = ftlab.train(config, progress=False)
    assert result["status"] == "finished"
    return result


def test_evaluations_log_the_validation_rows_disparities(adult_table: Path) -> None:
    # One evaluation, at the end: dp-penalty's only candidate is the last step (the penalty gets the model to
    # answer >50K within these 12 steps; without it, the model still answers <=50K for everyone).
    result = _short_full_run(adult_table, "mitigation-validation-gaps", mitigation="dp-penalty")
    logged = tracking.client().get_run(result["mlflow_run_id"]).data.metrics
    assert logged["model_step"] == 12
    table, _ = ftlab.predictions(result["run_id"], "validation")  # the final model, scored outside the Trainer
    positive = fx.ADULT_INCOME_NAMES[">50K"]  # adult_table renames the labels
    gold, predicted, sex = table["gold"] == positive, table["predicted"] == positive, table["sex"]
    one_row = 1 / sex.value_counts().min() + 1e-9  # other batches than the Trainer's: a row at 0.5 may flip
    dp = demographic_parity_difference(gold, predicted, sensitive_features=sex)
    assert dp > 0, "the model answered the same for everyone: nothing tested"
    assert logged["eval_dp_difference"] == pytest.approx(dp, abs=one_row)
    assert logged["eval_eo_difference"] == pytest.approx(
        equalized_odds_difference(gold, predicted, sensitive_features=sex), abs=one_row)


def test_dp_penalty_run_ends_on_its_best_validation_checkpoint(adult_table: Path) -> None:
    """Each evaluation logs dp-penalty's score, (1 - accuracy) + λ · DP difference; the saved model is the checkpoint
    with the lowest score, and it reproduces that step's validation accuracy."""
    result = _short_full_run(adult_table, "mitigation-dp-select", mitigation="dp-penalty", eval_steps=3,
                             save_steps=3)
    logged = tracking.metric_histories(result["mlflow_run_id"], ["eval_accuracy", "eval_dp_difference",
                                                                 "eval_dp_objective", "model_step"])
    accuracy, gap, score = ({step: value for step, value, _ in logged[key]}
                            for key in ("eval_accuracy", "eval_dp_difference", "eval_dp_objective"))
    assert sorted(score) == [3, 6, 9, 12] and sorted(gap) == [3, 6, 9, 12]
    for step in score:
        assert score[step] == pytest.approx(1 - accuracy[step] + 0.35 * gap[step], abs=1e-6)
    chosen = min(score, key=lambda step: (score[step], step))  # the first of equal scores: a later one must beat it
    assert [value for _, value, _ in logged["model_step"]] == [chosen]
    assert chosen < 12 and accuracy[chosen] != accuracy[12], "the last step was best: the choice is not tested"
    table, _ = ftlab.predictions(result["run_id"], "validation")
    assert table["correct"].mean() == pytest.approx(accuracy[chosen], abs=1 / len(table) + 1e-9)


def test_validation_disparities_leave_out_unknown_groups_and_need_two() -> None:
    gold, predicted = np.array([1, 0, 1, 0, 1, 1]), np.array([1, 0, 0, 0, 1, 1])
    groups = np.array([0, 0, 1, 1, -1, -1])
    figures = group_disparities(gold, predicted, groups, positive=1)
    assert figures["dp_difference"] == pytest.approx(0.5)  # group 0 selects 1 of 2, group 1 none; -1 left out
    assert figures["eo_difference"] == pytest.approx(1.0)  # true positives: 1 of 1 against 0 of 1
    assert np.isnan(group_disparities(gold, predicted, np.array([0, 0, 0, -1, -1, -1]), 1)["dp_difference"])


def test_penalty_weight_is_the_given_one_the_default_or_none() -> None:
    assert ftlab.mitigation.penalty_weight(_config(mitigation="eo-penalty", penalty_weight=0.25)) == 0.25
    assert ftlab.mitigation.penalty_weight(_config(mitigation="eo-penalty")) == 1.0
    # reweigh has no loss term: a stray --penalty-weight does not make its runs look weighted in Compare.
    assert ftlab.mitigation.penalty_weight(_config(mitigation="reweigh", penalty_weight=2.0)) is None
    assert ftlab.mitigation.penalty_weight(_config(mitigation="none")) is None


def test_adult_text_by_name_trains_with_a_penalty() -> None:
    """adult_text's labels (<=50K, >50K) end up in per-class metric names, which MLflow accepts only spelled out."""
    result = ftlab.train(_config(mitigation="eo-penalty", method="lora", train_size=64, eval_size=8, test_size=16,
                                 max_steps=1, batch_size=8, log_steps=1, name="mitigation-adult-text"), progress=False)
    assert result["status"] == "finished"
    assert tracking.metric_history(result["mlflow_run_id"], "loss_eo_penalty")
    logged = tracking.client().get_run(result["mlflow_run_id"]).data.metrics
    assert {"eval_precision_le50K", "eval_precision_gt50K"} <= set(logged)


# -- bad options ---------------------------------------------------------------------------------------------------

def test_registry_lists_the_built_in_mitigations() -> None:
    assert [spec.name for spec in list_mitigations()] == ["none", "dp-penalty", "eo-penalty", "reweigh"]


def test_yaml_round_trip_keeps_the_mitigation() -> None:
    config = _config(mitigation="eo-penalty", penalty_weight=0.25)
    assert TrainConfig.from_yaml(config.to_yaml()) == config
    assert TrainConfig().mitigation == "none" and TrainConfig().sensitive_col is None


@pytest.mark.parametrize("values,expect", [
    ({"mitigation": "bogus", "sensitive_col": "sex"},
     ["Unknown mitigation 'bogus'", "dp-penalty, eo-penalty, none, reweigh", "--mitigation"]),
    ({"mitigation": "reweigh"}, ["--mitigation reweigh needs --sensitive-col"]),
    ({"mitigation": "dp-penalty", "sensitive_col": "sex", "penalty_weight": -0.5}, ["--penalty-weight", "-0.5"]),
    ({"penalty_weight": "heavy"}, ["--penalty-weight", "a number"]),
    ({"mitigation": "eo-penalty", "sensitive_col": "sex", "task": "ner"}, ["--mitigation", "classification"]),
    ({"mitigation": "dp-penalty", "sensitive_col": "sex", "save_steps": 30, "eval_steps": 20},
     ["--save-steps (30) must be a multiple of --eval-steps (20)", "checkpoint at each evaluation"]),
])
def test_bad_config_names_the_flag(values: dict, expect: list[str]) -> None:
    with pytest.raises(UserError) as raised:
        TrainConfig.from_dict(values)
    for text in expect:
        assert text in str(raised.value)


CLI_CASES = [
    ("unknown-mitigation", "train --dataset adult_text --mitigation bogus --sensitive-col sex",
     ["Unknown mitigation 'bogus'", "reweigh", "--mitigation"]),
    ("no-sensitive-col", "train --dataset adult_text --mitigation dp-penalty", ["--sensitive-col", "--mitigation"]),
    ("negative-weight", "train --dataset adult_text --mitigation dp-penalty --sensitive-col sex --penalty-weight -1",
     ["--penalty-weight"]),
    ("unknown-column", "train --dataset adult_text --mitigation reweigh --sensitive-col sexx",
     ["--sensitive-col 'sexx'", "sex, race, age, source_split"]),
    ("too-many-groups", "train --dataset adult_text --mitigation reweigh --sensitive-col age",
     ["--sensitive-col 'age'", "distinct values", "sex, race, source_split"]),
    ("one-value-column", "train --data {in}/one.csv --mitigation eo-penalty --sensitive-col site",
     ["--sensitive-col 'site'", "single value ('imdb')"]),
]


@pytest.mark.parametrize("argv,expect", [pytest.param(a, e, id=i) for i, a, e in CLI_CASES])
def test_cli_bad_mitigation_is_one_clear_error(argv: str, expect: list[str], fresh_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    inputs = fresh_home.parent / "inputs"
    inputs.mkdir()
    (inputs / "one.csv").write_text(fx.SENSITIVE_ONE_VALUE_CSV)
    capsys.readouterr()
    try:
        rc = main(argv.replace("{in}", str(inputs)).split())
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and "\n\n" not in err and err.count("error:") == 1, err
    for text in expect:
        assert text in err, err
    assert not any(Path.cwd().iterdir()), "nothing is written to the working directory"
    assert not list(fresh_home.glob("runs/**/state.json")), "no run is created"
