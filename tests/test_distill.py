"""Knowledge distillation (`--method distill`): the student is the teacher cut to fewer layers, the KL term to the
teacher is really in its loss, the trained student is smaller and reloads as such, and bad teachers are refused.

The teacher is conftest's `trained_run` (a full fine-tune on rotten_tomatoes, shared with other test files)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import TrainingArguments

import fixtures
import ftlab
from ftlab import runs
from ftlab.cli import main
from ftlab.config import TrainConfig
from ftlab.evaluate import load_trained, predictions
from ftlab.methods import get_method
from ftlab.methods.common import transformer_blocks
from ftlab.methods.distill import check_same_vocabulary, distillation_loss, load_teacher, plain_model
from ftlab.models import load_tokenizer
from ftlab.tasks import get_task
from ftlab.trainer import FtlabTrainer
from ftlab.training_options import OptionContext

TEACHER = fixtures.DISTILL_TEACHER
LABELS = ["fresh", "rotten"]
SPEC = get_method("distill")


def _student(options: dict, labels: list[str] = LABELS) -> torch.nn.Module:
    return SPEC.apply(get_task("classification").load_model("minilm", labels), SPEC.make_config(options))


def _batch(texts: list[str]) -> dict:
    return dict(load_tokenizer("minilm")([t for t, _ in texts], padding=True, return_tensors="pt"),
                labels=torch.tensor([LABELS.index(label) for _, label in texts]))


def _logits(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**{k: v for k, v in batch.items() if k != "labels"}).logits


@pytest.fixture(scope="module")
def student_run(trained_run) -> str:
    """A 3-layer student distilled for 4 steps through the CLI, with the issue's `--teacher RUN` spelling."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", *fixtures.DISTILL_STUDENT_FLAGS, "--name", "distill-student", "--json"]) == 0
    return json.loads(out.getvalue())["run_id"]


# -- the student's initialisation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("choice,kept", [("spread", [0, 2, 5]), ("first", [0, 1, 2])])
def test_the_student_is_the_teacher_cut_to_its_layers(trained_run, choice: str, kept: list[int]) -> None:
    teacher = load_teacher(TEACHER)
    student = _student({"teacher": TEACHER, "student_layers": 3, "layer_choice": choice})
    assert type(student) is type(teacher) and student.config.num_hidden_layers == 3
    assert len(transformer_blocks(student)) == 3
    assert all(p.requires_grad for p in student.parameters())  # every student parameter trains
    mine, theirs = student.state_dict(), teacher.state_dict()
    for key, tensor in mine.items():  # every tensor copied: layer i of the student is layer kept[i] of the teacher
        parts = key.split(".")
        if "layer" in parts:
            at = parts.index("layer") + 1
            parts[at] = str(kept[int(parts[at])])
        assert torch.equal(tensor, theirs[".".join(parts)]), key
    assert sum(p.numel() for p in student.parameters()) < sum(p.numel() for p in teacher.parameters())


def test_a_student_with_all_the_teachers_layers_is_the_teacher(trained_run) -> None:
    """The cut and copy lose nothing: keeping all 6 layers gives the teacher's logits exactly."""
    batch = _batch(fixtures.OVERFIT_TEXTS)
    student = _student({"teacher": TEACHER, "student_layers": 6})
    torch.testing.assert_close(_logits(student, batch), _logits(load_teacher(TEACHER), batch), atol=1e-5, rtol=1e-5)


def test_student_layers_0_distils_into_the_model_as_loaded(trained_run) -> None:
    base = get_task("classification").load_model("minilm", LABELS)
    before = copy.deepcopy(base.state_dict())
    student = SPEC.apply(base, SPEC.make_config({"teacher": TEACHER, "student_layers": 0}))
    assert student is base and student.config.num_hidden_layers == 6
    assert all(p.requires_grad for p in student.parameters())
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())


# -- the KL term ---------------------------------------------------------------------------------------------------

def test_the_kl_term_is_in_the_training_loss(trained_run, tmp_path) -> None:
    """total = cross-entropy + alpha · T² · KL(teacher ‖ student), and the KL part has a gradient: a trainer that
    dropped the term, or a term that did not reach the student, fails here."""
    # A student that disagrees with the teacher (the pre-trained body, a fresh head), so the term is not small.
    options = SPEC.make_config({"teacher": TEACHER, "student_layers": 0, "temperature": 1.5, "alpha": 0.7})
    student = SPEC.apply(get_task("classification").load_model("minilm", LABELS), options)
    frame = pd.DataFrame(fixtures.OVERFIT_TEXTS, columns=["text", "label"])
    context = OptionContext(TrainConfig(), frame, LABELS, load_tokenizer("minilm"), get_task("classification"))
    plugins = SPEC.plugins(options, context)
    assert set(plugins.loss_terms) == {"distill"}  # logged as loss_distill
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", disable_tqdm=True, use_cpu=True)
    trainer = FtlabTrainer(model=student, args=args, plugins=plugins)
    batch = _batch(fixtures.OVERFIT_TEXTS)

    student.train()
    torch.manual_seed(0)  # the same dropout masks in both forward passes
    total = trainer.compute_loss(student, dict(batch))
    torch.manual_seed(0)
    out = student(**batch)
    kl = 0.7 * distillation_loss(out.logits, _logits(load_teacher(TEACHER), batch), 1.5)
    assert kl.item() > 1e-3
    torch.testing.assert_close(total, out.loss + kl, atol=1e-6, rtol=1e-6)
    kl.backward()
    assert sum(float(p.grad.abs().sum()) for p in student.parameters() if p.grad is not None) > 0

    student.eval()  # evaluation reports the task loss alone
    torch.testing.assert_close(trainer.compute_loss(student, dict(batch)), student(**batch).loss)
    assert SPEC.plugins(SPEC.make_config({"teacher": TEACHER, "alpha": 0.0}), context) is None  # labels alone


def test_distillation_loss_is_t_squared_kl() -> None:
    student, teacher = torch.tensor([[2.0, -1.0]]), torch.tensor([[-1.0, 3.0]])
    p, q = torch.softmax(teacher / 2, -1), torch.softmax(student / 2, -1)
    assert float(distillation_loss(student, teacher, 2.0)) == pytest.approx(4 * float((p * (p / q).log()).sum()))
    assert float(distillation_loss(teacher, teacher, 2.0)) == pytest.approx(0.0, abs=1e-7)


# -- a trained student -----------------------------------------------------------------------------------------------

def test_the_student_trains_is_smaller_and_reloads_as_such(student_run, trained_run) -> None:
    record, teacher = ftlab.summary(student_run), ftlab.summary(TEACHER)
    assert record["status"] == "finished" and record["method"] == "distill"
    counts = record["param_counts"]
    assert counts["trainable"] == counts["total"] < teacher["param_counts"]["total"]
    assert record["metrics"]["loss_distill"] > 0  # the KL term was logged beside the loss, so it was there
    assert runs.model_size_mb(student_run) < 0.85 * runs.model_size_mb(TEACHER)

    model = load_trained(student_run)[0]
    assert model.config.num_hidden_layers == 3 and len(transformer_blocks(model)) == 3
    in_memory, _ = predictions(student_run, "test")  # scored at the end of training, by the model in memory
    reloaded, _ = predictions(student_run, "test", refresh_cache=True)
    columns = [f"prob_{label}" for label in LABELS]
    np.testing.assert_allclose(reloaded[columns].to_numpy(), in_memory[columns].to_numpy(), atol=1e-5)


def test_ftlab_predict_answers_with_the_student(student_run, capsys) -> None:
    assert main(["predict", student_run, "--text", "A warm, funny film.", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["label"] in LABELS and sum(out["probabilities"].values()) == pytest.approx(1.0)


def test_a_lora_teacher_is_merged_before_it_is_cut(fresh_home) -> None:
    run = ftlab.train(TrainConfig(**{**fixtures.TINY_JOB, "max_steps": 2, "eval_steps": 2, "save_steps": 2,
                                     "test_size": 16, "name": "lora-teacher"}), progress=False)["run_id"]
    teacher, batch = load_teacher(run), _batch(fixtures.OVERFIT_TEXTS)
    merged = plain_model(copy.deepcopy(teacher), run)
    assert not hasattr(merged, "peft_config")
    torch.testing.assert_close(_logits(merged, batch), _logits(teacher, batch), atol=1e-5, rtol=1e-4)
    whole = _student({"teacher": run, "student_layers": 6})
    torch.testing.assert_close(_logits(whole, batch), _logits(teacher, batch), atol=1e-5, rtol=1e-4)


# -- bad input -------------------------------------------------------------------------------------------------------

def _fake_run(run_id: str, status: str, **config) -> None:
    folder = runs.run_dir(run_id)
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"run_id": run_id, "status": status, "labels": ["a", "b"]}))
    (folder / "config.yaml").write_text(TrainConfig(name=run_id, **config).to_yaml())


@pytest.mark.parametrize("options,problem", [
    ({}, "needs a teacher: --distill-teacher (or --teacher) RUN"),
    ({"teacher": "no-such-run"}, "--distill-teacher (or --teacher): Unknown run 'no-such-run'"),
    ({"teacher": "t", "temperature": 0}, "--distill-temperature must be a number greater than 0"),
    ({"teacher": "t", "alpha": -0.5}, "--distill-alpha must be a number of 0 or more"),
    ({"teacher": "t", "student_layers": -1}, "--distill-student-layers must be 0 or a positive"),
    ({"teacher": "t", "layer_choice": "top"}, "--distill-layer-choice must be one of spread, first"),
])
def test_bad_options_are_refused(fresh_home, options: dict, problem: str) -> None:
    with pytest.raises(ftlab.UserError, match=re.escape(problem)):
        SPEC.make_config(options)


def test_an_ner_or_unfinished_teacher_is_refused(fresh_home) -> None:
    _fake_run("ner-teacher", "finished", task="ner", dataset="wnut16")
    with pytest.raises(ftlab.UserError, match="ner-teacher: it is a ner run; distillation teaches a classification"):
        SPEC.make_config({"teacher": "ner-teacher"})
    _fake_run("cancelled-teacher", "cancelled")
    with pytest.raises(ftlab.UserError, match="the run is cancelled, and a teacher must be a finished run"):
        SPEC.make_config({"teacher": "cancelled-teacher"})


def test_a_teacher_of_other_labels_is_refused(trained_run) -> None:
    with pytest.raises(ftlab.UserError, match=r"trained on the labels \['fresh', 'rotten'\], but this run's data has"):
        _student({"teacher": TEACHER}, labels=["<=50K", ">50K"])


def test_more_layers_than_the_teacher_has_are_refused(trained_run) -> None:
    with pytest.raises(ftlab.UserError, match="--distill-student-layers 7 is more than the teacher's 6 layers"):
        _student({"teacher": TEACHER, "student_layers": 7})


def test_a_student_with_another_vocabulary_is_refused() -> None:
    tokenizer = load_tokenizer("minilm")
    other = tokenizer.train_new_from_iterator([t for t, _ in fixtures.OVERFIT_TEXTS], vocab_size=120)
    check_same_vocabulary(tokenizer, copy.deepcopy(tokenizer), "t", "minilm")  # same vocabulary: accepted
    with pytest.raises(ftlab.UserError, match="another tokenizer vocabulary than --distill-teacher"):
        check_same_vocabulary(other, tokenizer, "t", "other-model")


def test_training_on_data_with_other_labels_is_refused(trained_run, ftlab_home, fresh_home) -> None:
    """Through `ftlab.train`: the teacher (copied into this home) knows fresh/rotten, adult_text has other labels."""
    shutil.copytree(ftlab_home / "runs" / TEACHER, fresh_home / "runs" / TEACHER,
                    ignore=shutil.ignore_patterns("checkpoints"))
    config = TrainConfig(dataset="adult_text", method="distill", method_options={"teacher": TEACHER}, train_size=32,
                         eval_size=16, test_size=16, max_steps=2, name="distill-other-labels")
    with pytest.raises(ftlab.UserError, match="a teacher can only teach the labels it knows"):
        ftlab.train(config, progress=False)
