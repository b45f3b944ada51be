"""`explain`: SHAP, LIME and integrated-gradients attributions of a run's prediction, per word, cached on disk.

Each method's result is cached per (run, model files' time stamp, text, target class, method, every setting that
changes the result) in `<home>/runs/<run>/explanations/<sha256>.json`, so a revisit reads a file and a changed
setting recomputes only that method.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ftlab.errors import UserError
from ftlab.explain.fast import FULL, fast_models
from ftlab.explain.model_fn import ClassifierFn
from ftlab.explain.words import Words, split_words
from ftlab.runs import model_stamp

EXPLAINERS = ("shap", "lime", "ig")

Progress = Callable[[float, str], None]
"""Called with (fraction done, from 0 to 1; what runs now) after every batch of model calls. Raising from it stops
the explanation; methods finished before that are cached."""


@dataclass(frozen=True)
class ExplainSettings:
    """What each method is given; every field is part of the cache key of the methods it affects."""

    shap_max_evals: int = 300
    """Model evaluations of SHAP's Partition explainer (`--shap-evals`); raised to 2 × tokens + 2 when lower."""
    lime_samples: int = 1000
    """Perturbed texts LIME fits its local linear model on (`--lime-samples`)."""
    ig_steps: int = 50
    """Steps of the integrated-gradients path integral (`--ig-steps`); more steps, smaller convergence delta."""
    seed: int = 0
    """Seeds SHAP's and LIME's sampling, so an explanation is reproducible."""
    fast: bool = False
    """Explain with a faster copy of the model (`--fast`): int8 for SHAP and LIME on a CPU, bf16 for integrated
    gradients where bf16 is fast; a copy is used for a text only where it agrees with the full model (see
    `ftlab.explain.fast`)."""

    def __post_init__(self) -> None:
        for name, flag in [("shap_max_evals", "--shap-evals"), ("lime_samples", "--lime-samples"),
                           ("ig_steps", "--ig-steps")]:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise UserError(f"{flag} must be a positive whole number, got {value!r}. Example: {flag} "
                                f"{getattr(ExplainSettings, name)}.")
        if not isinstance(self.fast, bool):
            raise UserError(f"fast must be True or False (--fast is a switch), got {self.fast!r}.")

    def of(self, method: str) -> dict[str, int | bool]:
        """The settings that change `method`'s result."""
        settings = {"shap": {"max_evals": int(self.shap_max_evals), "seed": int(self.seed)},
                    "lime": {"num_samples": int(self.lime_samples), "seed": int(self.seed)},
                    "ig": {"n_steps": int(self.ig_steps)}}[method]
        # Only when on, so that explanations cached before the option existed keep their keys.
        return {**settings, "fast": True} if self.fast else settings


@dataclass
class Explanation:
    run_id: str | None
    text: str
    words: list[str]
    prediction: dict[str, Any]
    """{"label": predicted class, "probabilities": {class: probability}}."""
    target: str
    """The class whose probability is explained."""
    attributions: dict[str, list[float]]
    """Method -> one score per word (positive: pushes the target's probability up)."""
    base_value: dict[str, float] = field(default_factory=dict)
    """{"shap": the target's probability with every token masked}: SHAP's word values add up from it."""
    ig_delta: float | None = None
    """Integrated gradients' convergence delta (completeness error, in probability units)."""
    settings: dict[str, dict[str, int | bool]] = field(default_factory=dict)
    precision: dict[str, str] = field(default_factory=dict)
    """Method -> the model that explained it: "fp32" (the run's own), or a fast copy's "int8" or "bf16"."""
    copy_probability: dict[str, float] = field(default_factory=dict)
    """Method -> the target's probability under the fast copy that explained it (methods the full model explained
    are absent); SHAP's values add up to this one."""
    truncated: bool = False
    """The text was longer than the model reads; words past the limit get 0."""
    cached: dict[str, bool] = field(default_factory=dict)
    """Method -> whether its result came from the cache."""
    trust: dict[str, Any] = field(default_factory=dict)

    def top(self, method: str, k: int = 3) -> list[tuple[str, float]]:
        """The k words with the largest attribution towards the target class, largest first."""
        scores = np.asarray(self.attributions[method])
        return [(self.words[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")[:k]]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("cached")
        return data


def explain(source: str | ClassifierFn, texts: str | list[str], explainers: str | tuple[str, ...] = EXPLAINERS,
            target: str | int | None = None, *, shap_max_evals: int = 300, lime_samples: int = 1000,
            ig_steps: int = 50, seed: int = 0, fast: bool = False, use_cache: bool = True, trust: bool = True,
            progress: Progress | None = None) -> list[Explanation]:
    """Explain a run's predictions on `texts` with SHAP, LIME and/or integrated gradients, per word.

    `source` is a run id or a loaded `ClassifierFn` (cached in its run's folder when it has a run id); `explainers` a subset of
    ("shap", "lime", "ig") or "all"; `target` a class name or index (default: each text's predicted class).
    `trust` adds agreement, faithfulness and additivity scores (`ftlab.explain.trust`), never cached: they cost one
    small batch of model calls. `progress` is told how far the work is (see `Progress`). `fast` explains with a
    faster copy of the model where it agrees with the full one (`ftlab.explain.fast`); trust scores always score
    the full model.

    >>> [e] = explain("lora-rt-demo", ["A warm, funny film."], "shap")  # doctest: +SKIP
    >>> e.top("shap")  # doctest: +SKIP
    [('warm', 0.21), ('funny', 0.17), ('film', 0.02)]
    """
    methods = _methods(explainers)
    settings = ExplainSettings(shap_max_evals, lime_samples, ig_steps, seed, fast)
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        raise UserError("Nothing to explain: give a non-empty text, e.g. --text 'A warm, funny film.'")
    fn = ClassifierFn.from_run(source) if isinstance(source, str) else source
    if explainers == "all" and "ig" in methods:
        from ftlab.compress.quantize import is_int8

        methods = tuple(m for m in methods if m != "ig" or not is_int8(fn.model))  # int8: no gradients for IG
    run_id = fn.run_id
    cache = _cache_dir(run_id) if run_id and use_cache else None
    report = _Reporter(progress, len(texts) * len(methods))
    results = [_explain_one(fn, run_id, text, methods, target, settings, cache, report) for text in texts]
    if trust:
        from ftlab.explain.trust import trust_scores

        for result in results:
            result.trust = trust_scores(fn, split_words(result.text),
                                        {m: np.asarray(a) for m, a in result.attributions.items()},
                                        fn.labels.index(result.target), base_value=result.base_value or None,
                                        outputs=result.copy_probability)
    return results


def _methods(explainers: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    names = [explainers] if isinstance(explainers, str) else list(explainers)
    names = list(EXPLAINERS) if names == ["all"] else names
    unknown = [n for n in names if n not in EXPLAINERS]
    if unknown or not names:
        raise UserError(f"Unknown explainer {', '.join(map(repr, unknown)) or '(none)'}: choose shap, lime, ig "
                        "or all. Example: --explainer shap.")
    return tuple(dict.fromkeys(names))


def _explain_one(fn: ClassifierFn, run_id: str | None, text: str, methods: tuple[str, ...],
                 target: str | int | None, settings: ExplainSettings, cache: Path | None,
                 report: _Reporter) -> Explanation:
    truncated = fn.check_text(text)
    words = split_words(text)
    probabilities = fn([text])[0]
    index = int(probabilities.argmax()) if target is None else fn.label_index(target, text)
    # Past the model's limit words change nothing; explain the part it reads and give the rest 0.
    readable = _readable_part(fn, words) if truncated else words
    result = Explanation(run_id, text, list(words.words),
                         {"label": fn.labels[int(probabilities.argmax())],
                          "probabilities": {label: float(p) for label, p in zip(fn.labels, probabilities)}},
                         fn.labels[index], {}, truncated=truncated)
    for method in methods:
        key = {"run_id": run_id, "model": model_stamp(run_id) if cache else None, "text": text,
               "max_length": fn.max_length, "target": index, "method": method, "settings": settings.of(method)}
        path = cache / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()}.json" if cache else None
        stored = _read(path, key)
        result.cached[method] = stored is not None
        if stored is None:
            explainer_fn, precision = fast_models(fn).fn_for(method, readable.text) if settings.fast else (fn, FULL)
            with report.method(explainer_fn, f"{method}: {text[:40]}", _expected_calls(method, settings)):
                stored = {**_run_method(explainer_fn, readable, index, method, settings), "precision": precision}
            if explainer_fn is not fn:
                stored["copy_probability"] = float(explainer_fn([readable.text])[0][index])
            # Words past the cut get 0; the cut can split the last word in two ("isn'" + "t"), hence the slice.
            stored["attributions"] = (stored["attributions"] + [0.0] * len(words))[:len(words)]
            if path is not None:
                _write(path, {"key": key, **stored})
        report.unit_done(f"{method} done")
        result.attributions[method] = stored["attributions"]
        result.settings[method] = settings.of(method)
        result.precision[method] = stored.get("precision", FULL)
        if "copy_probability" in stored:
            result.copy_probability[method] = stored["copy_probability"]
        if method == "shap":
            result.base_value["shap"] = stored["base_value"]
        if method == "ig":
            result.ig_delta = stored["delta"]
    return result


def _run_method(fn: ClassifierFn, words: Words, target: int, method: str,
                settings: ExplainSettings) -> dict[str, Any]:
    if method == "shap":
        from ftlab.explain.shap_explainer import explain_shap

        shap = explain_shap(fn, words, target, max_evals=settings.shap_max_evals, seed=settings.seed)
        return {"attributions": shap.attributions.tolist(), "base_value": shap.base_value}
    if method == "lime":
        from ftlab.explain.lime_explainer import explain_lime

        lime = explain_lime(fn, words, target, num_samples=settings.lime_samples, seed=settings.seed)
        return {"attributions": lime.tolist()}
    from ftlab.explain.ig import explain_ig

    ig = explain_ig(fn, words, target, n_steps=settings.ig_steps)
    return {"attributions": ig.attributions.tolist(), "delta": ig.delta}


class _Reporter:
    """Turns ClassifierFn's per-batch calls into `progress(fraction, what)` over every (text, method) unit."""

    def __init__(self, progress: Progress | None, units: int) -> None:
        self.progress, self.units, self.done = progress, max(units, 1), 0

    @contextmanager
    def method(self, fn: ClassifierFn, what: str, expected_calls: int) -> Iterator[None]:
        if self.progress is None:
            yield
            return
        start, previous = fn.calls, fn.on_batch

        def on_batch() -> None:
            within = min((fn.calls - start) / expected_calls, 0.99)
            self.progress((self.done + within) / self.units, what)

        fn.on_batch = on_batch
        try:
            self.progress(self.done / self.units, what)
            yield
        finally:
            fn.on_batch = previous

    def unit_done(self, what: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done / self.units, what)


def _expected_calls(method: str, settings: ExplainSettings) -> int:
    """Roughly how many texts a method scores; IG calls the model directly, as one batch."""
    return {"shap": settings.shap_max_evals, "lime": settings.lime_samples, "ig": 1}[method]


def _readable_part(fn: ClassifierFn, words: Words) -> Words:
    """The words of the text's beginning that fit in the model's max_length tokens."""
    offsets = fn.tokenizer(words.text, truncation=True, max_length=fn.max_length,
                           return_offsets_mapping=True)["offset_mapping"]
    end = max(int(stop) for _, stop in offsets)
    return split_words(words.text[:end])


# -- the cache ----------------------------------------------------------------------------------------------------

def _cache_dir(run_id: str) -> Path:
    from ftlab.runs import run_dir

    return run_dir(run_id) / "explanations"


def _read(path: Path | None, key: dict[str, Any]) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):  # a torn or corrupt entry is recomputed, not an error
        return None
    return stored if stored.get("key") == key else None


def _write(path: Path, stored: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(stored))
    temporary.replace(path)  # atomic: a reader never sees half a file
