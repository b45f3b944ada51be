"""Back-translation: translate a text to a pivot language and back with two sequence-to-sequence models
(`--augment-translation-models`, e.g. `Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en`): a paraphrase that
keeps the meaning (Sennrich et al. 2016; Xie et al. 2020, UDA).

transformers 5 removed the `translation` pipeline, so the models are loaded with `AutoModelForSeq2SeqLM` and
called through `generate` (greedy decoding, so a text always comes back the same way). Hub ids need internet;
local model folders work offline.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from ftlab.augment.registry import Augmenter, AugmenterSpec, AugmentSetup, register_augmenter
from ftlab.errors import UserError

FLAG = "--augment-translation-models"
EXAMPLE = "Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en"
BATCH = 16
"""Texts translated per `generate` call."""


def translation_models(config: Any) -> tuple[str, str]:
    """The two model ids or folders of `config.augment_translation_models`: to the pivot language, and back."""
    value = config.augment_translation_models
    parts = [part.strip() for part in (value or "").split(",")]
    if len(parts) != 2 or not all(parts):
        got = "nothing" if value is None else repr(value)
        raise UserError(f"--augment backtranslation needs {FLAG}: two translation models, comma-separated, to a "
                        f"pivot language and back (got {got}); e.g. {FLAG} {EXAMPLE}.")
    return parts[0], parts[1]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def _needs_internet(model: str, why: str) -> UserError:
    return UserError(f"--augment backtranslation could not load the translation model '{model}' ({why}). "
                     f"Back-translation needs internet access to download hub models, or local model folders: pass "
                     f"two folders saved with `save_pretrained` with {FLAG} FOLDER_TO,FOLDER_BACK, or drop "
                     "backtranslation from --augment.")


def check(config: Any) -> None:
    """Both models given; offline, both must be local folders (no load: that happens when training starts)."""
    for model in translation_models(config):
        if _offline() and not Path(model).expanduser().is_dir():
            raise _needs_internet(model, "HF_HUB_OFFLINE=1 is set and it is not a local folder")


class Translator:
    """One sequence-to-sequence model and its tokenizer, translating a list of texts in batches."""

    def __init__(self, model: str, max_length: int, trust_remote_code: bool) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        folder = Path(model).expanduser()
        if _offline() and not folder.is_dir():
            raise _needs_internet(model, "HF_HUB_OFFLINE=1 is set and it is not a local folder")
        source = str(folder) if folder.is_dir() else model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(source, trust_remote_code=trust_remote_code).eval()
        except Exception as exc:  # OSError offline, ValueError for a model that does not translate, ImportError...
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            raise _needs_internet(model, f"{type(exc).__name__}: {first_line}") from exc
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> list[str]:
        import torch

        out: list[str] = []
        for start in range(0, len(texts), BATCH):
            batch = self.tokenizer(texts[start:start + BATCH], truncation=True, max_length=self.max_length,
                                   padding=True, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                generated = self.model.generate(**batch, max_new_tokens=self.max_length, do_sample=False)
            out.extend(self.tokenizer.batch_decode(generated, skip_special_tokens=True))
        return [text.strip() for text in out]


def backtranslation(setup: AugmentSetup) -> Augmenter:
    config = setup.config
    there, back = (Translator(model, config.max_length, config.trust_remote_code)
                   for model in translation_models(config))

    def augment(texts: list[str], rng: random.Random) -> list[str]:
        return back(there(texts))

    return augment


BACKTRANSLATION = register_augmenter(AugmenterSpec(
    name="backtranslation", build=backtranslation, check=check,
    description=f"Back-translation: to a pivot language and back with the two models of {FLAG} (hub ids need "
                "internet; local folders work offline). Slow on a CPU: one translation per augmented example."))
