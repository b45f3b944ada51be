"""Few-shot: k-shot training sets and the learning-curve runner."""

from __future__ import annotations

import json
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


def test_the_cli_trains_the_curve_and_writes_the_chart(fresh_home: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.cli import main

    config = tmp_path / "base.yaml"
    config.write_text("max_length: 32\neval_steps: 2\nsave_steps: 100\nlog_steps: 1\n")
    argv = ["fewshot", "--methods", "lora", "--ks", "2", "--seeds", "2", "--max-steps", "2", "--batch-size", "4",
            "--test-size", "16", "--eval-size", "8", "--config", str(config), "--prefix", "cli",
            "--html", str(tmp_path / "curve.html")]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(p["method"], p["k"], p["seed"]) for p in result["points"]] == [("lora", 2, 0), ("lora", 2, 1)]
    assert result["summary"][0]["count"] == 2 and "plotly" in (tmp_path / "curve.html").read_text()
    assert ftlab.TrainConfig.from_yaml((fresh_home / "runs" / "cli-lora-k2-s1" / "config.yaml").read_text()).max_length == 32
    assert main(argv) == 0  # the finished points are reused, and the human table shows the spread
    assert "lora             k=2    " in capsys.readouterr().out
