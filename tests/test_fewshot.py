"""Few-shot: k-shot training sets and the learning-curve runner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import ftlab
from ftlab.data import k_shot
from ftlab.fewshot import curve_figure, curve_summary, learning_curve

FRAME = pd.DataFrame({"text": [f"text {i}" for i in range(30)], "label": ["a"] * 20 + ["b"] * 7 + ["c"] * 3})


def test_k_shot_draws_k_of_every_class_seeded() -> None:
    drawn = k_shot(FRAME, 3, seed=1)
    assert drawn["label"].value_counts().to_dict() == {"a": 3, "b": 3, "c": 3}
    assert drawn.equals(k_shot(FRAME, 3, seed=1))
    assert not k_shot(FRAME, 2, seed=1)["text"].equals(k_shot(FRAME, 2, seed=2)["text"])


def test_k_larger_than_a_class_is_refused_with_the_counts() -> None:
    with pytest.raises(ftlab.UserError, match=r"--shots-per-class 5 .*\('c' has 3\); use at most 3"):
        k_shot(FRAME, 5, seed=0)
    with pytest.raises(ftlab.UserError, match="--shots-per-class"):
        ftlab.TrainConfig(task="ner", dataset="wnut16", shots_per_class=8)
    with pytest.raises(ftlab.UserError, match="--shots-per-class"):
        ftlab.TrainConfig(shots_per_class=0)


def test_a_training_run_uses_exactly_k_per_class(fresh_home: Path) -> None:
    splits = ftlab.load_splits(ftlab.TrainConfig(dataset="rotten_tomatoes", shots_per_class=8))
    assert splits["train"]["label"].value_counts().to_dict() == {"fresh": 8, "rotten": 8}


def test_learning_curve_trains_each_point_and_summarises_the_spread(fresh_home: Path) -> None:
    base = ftlab.TrainConfig(dataset="rotten_tomatoes", max_steps=2, batch_size=4, test_size=16, eval_size=8,
                             eval_steps=2, save_steps=100, log_steps=1, max_length=32)
    points = learning_curve(base, ["lora"], ks=[2, 4], seeds=[0, 1], prefix="curve")
    assert sorted(zip(points["k"], points["seed"])) == [(2, 0), (2, 1), (4, 0), (4, 1)]
    assert points["accuracy"].between(0, 1).all() and points["run_id"].str.startswith("curve-lora-k").all()
    summary = curve_summary(points)
    assert summary["count"].tolist() == [2, 2]
    assert summary["mean"].tolist() == pytest.approx(points.groupby("k")["accuracy"].mean().tolist())
    assert len(curve_figure(points).data) == 2  # the mean line and the seeds' dots
    again = learning_curve(base, ["lora"], ks=[2, 4], seeds=[0, 1], prefix="curve")  # finished runs are reused
    assert again["run_id"].tolist() == points["run_id"].tolist()
    with pytest.raises(ftlab.UserError, match="already exists with another config"):
        learning_curve(ftlab.TrainConfig.from_dict({**base.to_dict(), "max_steps": 3}), ["lora"], ks=[2], seeds=[0],
                       prefix="curve")


def test_a_too_large_k_is_refused_before_any_training(fresh_home: Path) -> None:
    base = ftlab.TrainConfig(dataset="rotten_tomatoes", max_steps=2)
    with pytest.raises(ftlab.UserError, match="--shots-per-class 100000"):
        learning_curve(base, ["full"], ks=[2, 100_000], seeds=[0])
    assert not list((fresh_home / "runs").glob("*/state.json"))
