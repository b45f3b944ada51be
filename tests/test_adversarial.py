"""Adversarial training (`--adversarial fgm|pgd`) and robustness (`ftlab.robustness`): during real training steps
the second forward really sees perturbed embeddings of the promised size, the matrix is restored before the
optimizer step, PGD takes its K extra steps, the adversarial loss reaches MLflow; the attacks are seeded and
`robust_accuracy` agrees with the run's own predictions; bad values are clear errors."""

from __future__ import annotations

import json
import re

import pytest
import torch
from transformers import TrainerCallback

import fixtures as fx
import ftlab
from ftlab import tracking
from ftlab.cli import main
from ftlab.data import subsample
from ftlab.errors import UserError
from ftlab.evaluate import read_split
from ftlab.plugins import Plugins
from ftlab.robustness import adversarial_plugins, attack_texts, robust_accuracy
from ftlab.training_options import OptionContext

BUDGET = {"dataset": "rotten_tomatoes", "train_size": 32, "eval_size": 16, "test_size": 16, "max_steps": 2,
          "batch_size": 8, "log_steps": 1, "eval_steps": 100, "save_steps": 100,
          "warmup_ratio": 0.0}  # no warmup: the first step already updates the weights


class EmbeddingProbe(TrainerCallback):
    """Per optimizer step: the word-embedding layer's input ids and output of every training forward, and the
    embedding matrix at the step's start, just before the optimizer update, and at the step's end."""

    def __init__(self) -> None:
        self.steps: list[dict] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.embeddings = model.get_input_embeddings()
        self.hook = self.embeddings.register_forward_hook(self._record)

    def _record(self, module, inputs, output):
        if module.training and self.steps:  # evaluation forwards run in eval mode
            self.steps[-1]["forwards"].append((inputs[0].detach().clone(), output.detach().clone()))

    def _weight(self) -> torch.Tensor:
        return self.embeddings.weight.detach().clone()

    def on_step_begin(self, args, state, control, **kwargs):
        self.steps.append({"forwards": [], "start": self._weight()})

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.steps[-1]["before_update"] = self._weight()

    def on_step_end(self, args, state, control, **kwargs):
        self.steps[-1]["end"] = self._weight()

    def on_train_end(self, args, state, control, **kwargs):
        self.hook.remove()


def perturbation(clean: tuple, perturbed: tuple) -> torch.Tensor:
    """The perturbation of the embedding matrix's rows that one forward saw, recovered from the layer's outputs:
    one row per distinct token id, and every occurrence of an id must have moved by that same row."""
    ids, before = clean
    same_ids, after = perturbed
    assert torch.equal(ids, same_ids), "the adversarial forward must see the same batch"
    moved = (after - before).reshape(-1, before.shape[-1])
    distinct, inverse = torch.unique(ids.reshape(-1), return_inverse=True)
    rows = torch.zeros(len(distinct), moved.shape[-1]).index_copy_(0, inverse, moved)
    torch.testing.assert_close(rows[inverse], moved, rtol=0, atol=1e-6)
    return rows


def _metric(summary: dict, key: str) -> list[float]:
    return [value for _, value, _ in tracking.metric_history(summary["mlflow_run_id"], key)]


def test_fgm_perturbs_the_embeddings_by_epsilon_and_restores_them() -> None:
    probe = EmbeddingProbe()
    summary = ftlab.train(ftlab.TrainConfig(**BUDGET, method="full", adversarial="fgm", adversarial_epsilon=2.0,
                                            name="adv-fgm"), plugins=Plugins(callbacks=[probe]), progress=False)
    assert summary["status"] == "finished"
    assert len(probe.steps) == 2
    for step in probe.steps:
        assert len(step["forwards"]) == 2, "FGM: one clean and one adversarial forward per step"
        rows = perturbation(*step["forwards"])
        # r = eps * g / ||g||: the rows of the batch's tokens carry all of the gradient, so their norm is eps.
        assert float(rows.norm()) == pytest.approx(2.0, rel=1e-3)
        assert torch.equal(step["before_update"], step["start"]), "the matrix must be restored before the update"
        assert not torch.equal(step["end"], step["start"]), "full fine-tuning updates the embeddings"
    adversarial, clean = _metric(summary, "loss_adversarial"), _metric(summary, "loss")
    assert len(adversarial) == 2 and all(v > 0 for v in adversarial)
    # One step up the gradient raises the loss: the perturbed batch is harder than the clean one.
    assert adversarial[0] > clean[0]


def test_pgd_takes_k_projected_steps_with_frozen_embeddings() -> None:
    probe = EmbeddingProbe()
    steps, alpha, epsilon = 3, 0.6, 1.0
    summary = ftlab.train(ftlab.TrainConfig(**BUDGET, method="lora", adversarial="pgd", adversarial_steps=steps,
                                            adversarial_alpha=alpha, adversarial_epsilon=epsilon, name="adv-pgd"),
                          plugins=Plugins(callbacks=[probe]), progress=False)
    assert summary["status"] == "finished"
    for step in probe.steps:
        assert len(step["forwards"]) == 1 + steps, "PGD: the clean forward and K adversarial ones"
        norms = [float(perturbation(step["forwards"][0], seen).norm()) for seen in step["forwards"][1:]]
        assert norms[0] == pytest.approx(alpha, rel=1e-3), "the first step is alpha along the clean gradient"
        assert all(0 < n <= epsilon * (1 + 1e-4) for n in norms), f"projected into the eps ball: {norms}"
        # LoRA freezes the embeddings: perturbed during the step, then exactly as they were.
        assert torch.equal(step["before_update"], step["start"]) and torch.equal(step["end"], step["start"])
    weight = probe.embeddings.weight
    assert not weight.requires_grad and weight.grad is None, "the frozen matrix must stay frozen"
    assert len(_metric(summary, "loss_adversarial")) == 2


def test_no_adversarial_step_unless_asked() -> None:
    context = OptionContext(config=ftlab.TrainConfig(), train_frame=None, labels=[], tokenizer=None, task=None)
    assert adversarial_plugins(context) is None
    fgm = OptionContext(config=ftlab.TrainConfig(adversarial="fgm"), train_frame=None, labels=[], tokenizer=None,
                        task=None)
    assert adversarial_plugins(fgm).training_step is not None


# -- the attacks and robust accuracy ------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_typo_attack_is_seeded_and_edits_the_promised_words(rate: float) -> None:
    attacked = attack_texts(fx.ATTACK_TEXTS, "typo", rate=rate, seed=3)
    assert attacked == attack_texts(fx.ATTACK_TEXTS, "typo", rate=rate, seed=3)
    assert attacked != attack_texts(fx.ATTACK_TEXTS, "typo", rate=rate, seed=4)
    for text, new in zip(fx.ATTACK_TEXTS, attacked):
        words, new_words = text.split(), new.split()
        eligible = sum(bool(re.fullmatch(r"[a-z]{2,}", w)) for w in words)
        assert len(new_words) == len(words)
        edits = min(eligible, max(1, round(rate * len(words))))
        assert sum(a != b for a, b in zip(words, new_words)) == edits, (text, new)


def test_word_attack_is_seeded_and_changes_texts() -> None:
    attacked = attack_texts(fx.ATTACK_TEXTS, "words", rate=0.3, seed=0)
    assert attacked == attack_texts(fx.ATTACK_TEXTS, "words", rate=0.3, seed=0)
    assert sum(a != b for a, b in zip(fx.ATTACK_TEXTS, attacked)) >= 3
    assert all(set(new.split()) <= set(text.split()) for text, new in zip(fx.ATTACK_TEXTS, attacked))


def test_synonym_attack_replaces_words_by_roget_synonyms() -> None:
    from ftlab.augment import roget_synonyms

    table = roget_synonyms()
    attacked = attack_texts(fx.ATTACK_TEXTS, "synonyms", rate=0.3, seed=2)
    assert attacked == attack_texts(fx.ATTACK_TEXTS, "synonyms", rate=0.3, seed=2)
    changed = [(old, new) for text, out in zip(fx.ATTACK_TEXTS, attacked)
               for old, new in zip(text.split(), out.split()) if old != new]
    assert len(changed) >= len(fx.ATTACK_TEXTS)
    assert all(new in table[old] for old, new in changed), changed


def test_robust_accuracy_agrees_with_the_runs_predictions(trained_run: dict) -> None:
    run_id = trained_run["run_id"]
    result = robust_accuracy(run_id, attack="typo", rate=0.3, seed=1, size=64)
    assert result["examples"] == 64 and result["changed_texts"] == 1.0
    # Clean accuracy: the run's own cached test predictions on the same 64 texts.
    table, _ = ftlab.predictions(run_id, "test")
    sampled = {s["text"] for s in result["samples"]}
    assert sampled <= set(table["text"])
    rows = table.set_index("example_id").loc[subsample(read_split(run_id, "test"), 64, seed=1)["example_id"]]
    assert result["clean_accuracy"] == pytest.approx(float(rows["correct"].mean()))
    assert 0 <= result["attacked_accuracy"] <= 1
    assert result["accuracy_drop"] == pytest.approx(result["clean_accuracy"] - result["attacked_accuracy"])
    # Accuracy can only move through flipped predictions.
    assert abs(result["accuracy_drop"]) <= result["flipped"] + 1e-9
    assert all(s["attacked"] != s["text"] for s in result["samples"])


def test_robustness_cli(trained_run: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["robustness", trained_run["run_id"], "--attack", "words", "--size", "16", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["attack"] == "words" and result["examples"] == 16
    assert main(["robustness", trained_run["run_id"], "--size", "16"]) == 0
    assert "attacked accuracy" in capsys.readouterr().out
    assert main(["robustness", trained_run["run_id"], "--rate", "0"]) == 2
    assert "--rate" in capsys.readouterr().err


# -- bad values ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("values", "flag"), [
    ({"adversarial": "xyz"}, "--adversarial"),
    ({"adversarial": "fgm", "adversarial_epsilon": 0}, "--adversarial-epsilon"),
    ({"adversarial": "pgd", "adversarial_steps": 0}, "--adversarial-steps"),
    ({"adversarial": "pgd", "adversarial_alpha": -0.1}, "--adversarial-alpha"),
    ({"adversarial_epsilon": float("nan")}, "--adversarial-epsilon"),
])
def test_bad_adversarial_values_name_the_flag(values: dict, flag: str) -> None:
    with pytest.raises(UserError, match=re.escape(flag)) as error:
        ftlab.TrainConfig(**values)
    if flag == "--adversarial":
        assert "fgm" in str(error.value) and "pgd" in str(error.value)


@pytest.mark.parametrize(("kwargs", "fragment"), [({"attack": "xyz"}, "typo"), ({"rate": 1.5}, "--rate"),
                                                  ({"size": 1}, "--size")])
def test_bad_attack_values_name_the_fix(trained_run: dict, kwargs: dict, fragment: str) -> None:
    with pytest.raises(UserError, match=re.escape(fragment)):
        robust_accuracy(trained_run["run_id"], **kwargs)
