"""Explanations on real fine-tuned embedded models: SHAP additivity, sentiment words on top, LoRA and full runs,
the cache, bad input, and the CLI.

The runs are tiny (24 steps on 256 texts): their test accuracy is near chance and they lean to one class, but
their probabilities already move the right way on sentiment words, which is what the top-3 checks rely on.
Settings stay small (SHAP 100 evaluations, LIME 200 samples) except in the top-3 check.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from ftlab.errors import UserError
from ftlab.explain import ClassifierFn, explain, split_words

SMALL = {"shap_max_evals": 100, "lime_samples": 200, "ig_steps": 20}
NEGATIVE = "The film was awful."


@pytest.fixture(scope="module")
def full_run(trained_run: dict) -> str:
    return trained_run["run_id"]


@pytest.fixture(scope="module")
def lora_run(ftlab_home: Path) -> str:
    import ftlab

    return ftlab.train(ftlab.TrainConfig(
        dataset="rotten_tomatoes", method="lora", train_size=256, eval_size=64, test_size=64, max_steps=24,
        eval_steps=12, save_steps=24, log_steps=4, name="explain-lora"), progress=False)["run_id"]


def _labels(run_id: str) -> list[str]:
    return ClassifierFn.from_run(run_id).labels


def _negative(run_id: str) -> str:
    """rotten_tomatoes' negative class, by name (the labels are 'fresh' / 'rotten')."""
    return next(label for label in _labels(run_id) if label in ("rotten", "neg", "negative", "0"))


@pytest.mark.parametrize("target", [None, 1])
def test_shap_word_values_add_up_to_the_probability(full_run: str, target: int | None) -> None:
    [e] = explain(full_run, "A wonderful, moving film.", "shap", target, use_cache=False, **SMALL)
    assert e.words == ["A", "wonderful", ",", "moving", "film", "."]
    assert len(e.attributions["shap"]) == len(e.words)
    probability = e.prediction["probabilities"][e.target]
    assert sum(e.attributions["shap"]) + e.base_value["shap"] == pytest.approx(probability, abs=1e-4)
    assert e.trust["additivity"]["shap"]["ok"]


def test_obvious_sentiment_word_is_in_every_methods_top_3(full_run: str) -> None:
    [e] = explain(full_run, NEGATIVE, "all", _negative(full_run), lime_samples=500, use_cache=False)
    for method in ("shap", "lime", "ig"):
        assert "awful" in [word for word, _ in e.top(method, 3)], (method, e.top(method, 6))
    assert abs(e.ig_delta) < 0.01  # integrated gradients' completeness holds with 50 steps


def test_lora_and_full_runs_both_explain(full_run: str, lora_run: str) -> None:
    for run_id in (full_run, lora_run):
        [e] = explain(run_id, NEGATIVE, "all", _negative(run_id), use_cache=False, **SMALL)
        assert e.run_id == run_id and set(e.attributions) == {"shap", "lime", "ig"}
        assert all(len(v) == len(e.words) and np.isfinite(v).all() for v in e.attributions.values())
        assert "awful" in [word for word, _ in e.top("ig", 3)], (run_id, e.top("ig", 6))
        assert sum(e.attributions["shap"]) + e.base_value["shap"] == pytest.approx(
            e.prediction["probabilities"][e.target], abs=1e-4)
        assert set(e.trust["agreement"]) == {"shap~lime", "shap~ig", "lime~ig"}


def test_integrated_gradients_equal_captums_layer_ig_on_the_embedding_layer(full_run: str, lora_run: str) -> None:
    """ftlab integrates over `inputs_embeds` to skip LIG's two extra forward passes; the numbers must not change."""
    import torch
    from captum.attr import LayerIntegratedGradients

    from ftlab.explain.ig import explain_ig
    from ftlab.explain.words import to_words

    for run_id in (full_run, lora_run):
        fn = ClassifierFn.from_run(run_id)
        words, target = split_words(NEGATIVE), 1
        ours = explain_ig(fn, words, target, n_steps=20)
        encoded = fn.tokenizer(NEGATIVE, return_offsets_mapping=True, return_special_tokens_mask=True,
                               return_tensors="pt")
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        baseline = torch.where(encoded["special_tokens_mask"].bool(), ids, torch.full_like(ids, fn.tokenizer.pad_token_id))

        def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return torch.softmax(fn.model(input_ids=input_ids, attention_mask=attention_mask).logits, -1)

        reference, delta = LayerIntegratedGradients(forward, fn.model.get_input_embeddings()).attribute(
            ids, baselines=baseline, target=target, additional_forward_args=(mask,), n_steps=20,
            return_convergence_delta=True)
        spans = [tuple(span) for span in encoded["offset_mapping"][0].tolist()]
        expected = to_words(words, spans, reference.sum(-1)[0].detach().numpy())
        np.testing.assert_allclose(ours.attributions, expected, atol=1e-6)
        assert ours.delta == pytest.approx(abs(float(delta)), abs=1e-5)


def test_same_settings_hit_the_cache_and_a_changed_one_misses(full_run: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftlab.runs import run_dir

    text = "A warm and funny film, if a little long."
    calls: list[int] = []
    original = ClassifierFn.__call__
    monkeypatch.setattr(ClassifierFn, "__call__", lambda self, texts: calls.append(len(texts)) or original(self, texts))

    def run(**settings: int) -> tuple[dict[str, bool], int, list[float]]:
        calls.clear()
        [e] = explain(full_run, text, ("shap", "lime"), trust=False, **{**SMALL, **settings})
        return e.cached, sum(calls), e.attributions["shap"]

    first, first_calls, first_values = run()
    assert first == {"shap": False, "lime": False} and first_calls > 100
    again, again_calls, again_values = run()
    assert again == {"shap": True, "lime": True} and again_calls == 1  # only the prediction itself
    assert again_values == first_values
    changed, _, _ = run(shap_max_evals=120)
    assert changed == {"shap": False, "lime": True}  # only the method whose setting changed recomputes
    assert run(lime_samples=150)[0] == {"shap": True, "lime": False}
    assert len(list((run_dir(full_run) / "explanations").glob("*.json"))) >= 4


def test_fast_copy_explains_where_it_agrees_and_is_cached_apart(full_run: str, lora_run: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """--fast: a bf16 copy where bf16 is fast, else int8 for SHAP and LIME; the top word stays, SHAP adds up to
    the full model's probability, a disagreeing copy is not used, and fast results never answer a full request."""
    from ftlab.explain import fast as fast_module

    loaded = ClassifierFn.from_run(full_run)
    settings = {**SMALL, "use_cache": False}
    [full] = explain(loaded, NEGATIVE, "all", _negative(full_run), **settings)
    [fast] = explain(loaded, NEGATIVE, "all", _negative(full_run), fast=True, **settings)
    bf16 = fast_module.bf16_is_fast(next(loaded.model.parameters()).device)
    expected = dict.fromkeys(("shap", "lime", "ig"), "bf16") if bf16 else {"shap": "int8", "lime": "int8", "ig": "fp32"}
    # The int8 copy may disagree beyond the limit on this text, and then the full model explains it.
    assert all(fast.precision[m] in (expected[m], "fp32") for m in expected), fast.precision
    assert full.precision == dict.fromkeys(("shap", "lime", "ig"), "fp32")
    assert fast.prediction == full.prediction  # the prediction is always the full model's
    assert set(fast.copy_probability) == {m for m, p in fast.precision.items() if p != "fp32"}
    assert fast.trust["additivity"]["shap"]["ok"], fast.trust["additivity"]
    for method in ("shap", "lime", "ig"):
        # This tiny run's other word values are a few thousandths, within rounding of each other, so only the top
        # word is compared here; bench/explain_latency.py measures rank agreement on a trained model.
        assert fast.top(method, 1)[0][0] == full.top(method, 1)[0][0] == "awful", (method, fast.top(method, 6))

    # Without fast bf16 (most CPUs): SHAP and LIME by an int8 copy, here accepted whatever it predicts.
    monkeypatch.setattr(fast_module, "bf16_is_fast", lambda device: False)
    monkeypatch.setattr(fast_module, "AGREEMENT", 1.0)
    for run_id in (full_run, lora_run):  # a LoRA run's adapter is merged into the copy before quantising
        [int8] = explain(run_id, NEGATIVE, ("shap", "lime", "ig"), _negative(run_id), fast=True, use_cache=False,
                         **SMALL)
        assert int8.precision == {"shap": "int8", "lime": "int8", "ig": "fp32"}
        assert int8.trust["additivity"]["shap"]["ok"]  # against the copy's own probability
    int8_model = fast_module.int8_copy(loaded.model)
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in int8_model.modules())
    assert not any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in loaded.model.modules())

    # Cached apart: a full explanation is not served to a fast request.
    [cached_full] = explain(loaded, "Dull.", "shap", **SMALL)
    [first_fast] = explain(loaded, "Dull.", "shap", fast=True, **SMALL)
    assert (cached_full.cached, first_fast.cached) == ({"shap": False}, {"shap": False})
    assert explain(loaded, "Dull.", "shap", fast=True, **SMALL)[0].cached == {"shap": True}

    # Where the copy disagrees with the full model beyond the limit, the full model explains.
    monkeypatch.setattr(fast_module, "AGREEMENT", -1.0)
    [strict] = explain(loaded, NEGATIVE, ("shap", "lime"), _negative(full_run), fast=True, trust=False, **settings)
    assert strict.precision == {"shap": "fp32", "lime": "fp32"} and strict.copy_probability == {}
    assert strict.attributions["shap"] == full.attributions["shap"]


def test_a_loaded_classifier_explains_with_or_without_a_run(full_run: str) -> None:
    loaded = ClassifierFn.from_run(full_run)
    [first] = explain(loaded, ["Dull."], "ig", ig_steps=10)
    [again] = explain(loaded, ["Dull."], "ig", ig_steps=10)
    assert first.run_id == full_run and (first.cached, again.cached) == ({"ig": False}, {"ig": True})
    bare = ClassifierFn(loaded.model, loaded.tokenizer, loaded.labels, loaded.max_length)  # e.g. a notebook's model
    [e] = explain(bare, ["Dull."], "ig", ig_steps=10)
    assert e.run_id is None and e.words == ["Dull", "."] and e.cached == {"ig": False}
    assert e.attributions == first.attributions


def test_progress_reaches_one_and_raising_from_it_stops_the_explanation(full_run: str) -> None:
    loaded, seen = ClassifierFn.from_run(full_run), []
    explain(loaded, ["Dull.", "A fine film."], ("shap", "lime"), use_cache=False, trust=False,
            progress=lambda done, what: seen.append((done, what)), **SMALL)
    fractions = [done for done, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) > 8
    assert {what.split(":")[0] for _, what in seen} >= {"shap", "lime", "shap done", "lime done"}

    class Stop(Exception):
        pass

    def stop_in_lime(done: float, what: str) -> None:
        if what.startswith("lime:") and done > 0.1:
            raise Stop

    # 24 words: LIME's 5,000 perturbations are nearly all distinct, so deduplication alone cannot shrink them
    long_text = "A dull and lifeless film that drags on and on, with flat jokes, wooden acting and a plot nobody " \
                "could care about."
    calls_before = loaded.calls
    with pytest.raises(Stop):
        explain(loaded, [long_text], ("shap", "lime"), trust=False, progress=stop_in_lime, **SMALL | {"lime_samples": 5000})
    assert loaded.calls - calls_before < 1000  # LIME stopped within a batch, not after its 5,000 samples
    assert loaded.on_batch is None
    [e] = explain(loaded, [long_text], ("shap",), trust=False, **SMALL)
    assert e.cached == {"shap": True}  # the method finished before the stop was kept


def test_a_text_longer_than_the_model_reads_is_truncated_with_a_warning(
        full_run: str, caplog: pytest.LogCaptureFixture) -> None:
    text = "A good film. " * 60  # 240 words, 242 tokens: past max_length 128
    with caplog.at_level(logging.WARNING, logger="ftlab"):
        [e] = explain(full_run, text, "all", use_cache=False, shap_max_evals=100, lime_samples=20, ig_steps=5,
                      trust=False)
    assert e.truncated and "reads only the first 128" in caplog.text
    assert len(e.words) == len(split_words(text)) == 240
    for method, values in e.attributions.items():
        assert len(values) == 240 and not any(values[-100:]), method  # past the limit: no attribution
    assert sum(e.attributions["shap"]) + e.base_value["shap"] == pytest.approx(
        e.prediction["probabilities"][e.target], abs=1e-3)


@pytest.mark.parametrize("args, kwargs, expected", [
    (["  "], {}, ["Nothing to explain", "--text"]),
    ([["ok", ""]], {}, ["Nothing to explain"]),
    (["ok"], {"target": "neutral"}, ["Unknown class 'neutral'", "fresh, rotten"]),
    (["ok"], {"target": 7}, ["Unknown class 7"]),
    (["ok", "kernel"], {}, ["Unknown explainer 'kernel'", "shap, lime, ig"]),
    (["ok"], {"shap_max_evals": 0}, ["--shap-evals", "positive"]),
    (["ok"], {"lime_samples": -1}, ["--lime-samples", "positive"]),
], ids=["blank", "one-blank-of-two", "unknown-class", "class-index-out-of-range", "unknown-explainer", "zero-evals",
        "negative-samples"])
def test_bad_input_is_a_clear_error(full_run: str, args: list, kwargs: dict, expected: list[str]) -> None:
    with pytest.raises(UserError) as error:
        explain(full_run, *args, **kwargs)
    for part in expected:
        assert part in str(error.value)


def test_unknown_run_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="Unknown run 'no-such-run'"):
        explain("no-such-run", "A fine film.")


def test_cli_json_and_human_output(full_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ftlab.cli import main

    argv = ["explain", full_run, "--text", "A wonderful, moving film.", "--shap-evals", "100", "--lime-samples", "200",
            "--ig-steps", "20"]
    assert main(argv + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"run_id", "text", "words", "prediction", "target", "attributions", "base_value", "trust"} <= set(result)
    assert set(result["attributions"]) == {"shap", "lime", "ig"} and set(result["prediction"]) == {"label",
                                                                                               "probabilities"}
    assert sum(result["attributions"]["shap"]) + result["base_value"]["shap"] == pytest.approx(
        result["prediction"]["probabilities"][result["target"]], abs=1e-4)
    assert main(argv + ["--explainer", "ig", "--target", _negative(full_run)]) == 0
    out = capsys.readouterr().out
    assert "explaining: rotten" in out and "ig" in out and "delta" in out
    assert main(argv + ["--explainer", "shap", "--fast", "--json"]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert set(fast["precision"]) == {"shap"} and fast["settings"]["shap"]["fast"] is True
    assert fast["trust"]["additivity"]["shap"]["ok"]


def test_cli_unknown_class_and_long_text(full_run: str, capsys: pytest.CaptureFixture[str],
                                        caplog: pytest.LogCaptureFixture) -> None:
    from ftlab.cli import main

    assert main(["explain", full_run, "--text", "Fine.", "--target", "neutral"]) == 2
    assert "Unknown class 'neutral'" in capsys.readouterr().err
    with caplog.at_level(logging.WARNING, logger="ftlab"):  # the CLI logs to stderr; in-process pytest catches it
        assert main(["explain", full_run, "--text", "Long. " * 150, "--explainer", "ig", "--ig-steps", "5",
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["truncated"] is True and "reads only the first" in caplog.text
