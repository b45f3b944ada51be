"""Data augmentation (`ftlab.augment`, `--augment`): a real run trains on augmented batches while evaluation and
test scoring see clean ones; augmentation is seeded and drawn afresh per batch; each augmenter changes a text the
way it promises; back-translation works from local folders and says what it needs offline; bad values are clear
errors naming the flag."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from torch.utils.data import DataLoader
from transformers import TrainerCallback, TrainerState, TrainingArguments

import fixtures as fx
import ftlab
from ftlab.augment import (Augmentation, augment_plugins, batch_rng, edits_for, list_augmenters, preview, typos,
                           word_dropout, word_swap)
from ftlab.augment.synonyms import NEIGHBOURS_K, THESAURUS
from ftlab.cli import main
from ftlab.config import TrainConfig
from ftlab.errors import UserError
from ftlab.evaluate import read_split
from ftlab.models import load_pretrained, load_tokenizer, resolve_model
from ftlab.plugins import Plugins
from ftlab.tasks import get_task
from ftlab.training_options import OptionContext

SEEDS = range(20)
LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _words(text: str) -> list[str]:
    return text.split()


def _bare(word: str) -> str:
    return re.sub(r"[^A-Za-z]", "", word)


# -- (a) a real run: the model trains on augmented batches and is evaluated on clean ones ---------------------------

class InputRecorder(TrainerCallback):
    """Records every row of input ids the model receives, with whether it was in training mode."""

    def __init__(self) -> None:
        self.rows: list[tuple[bool, tuple[int, ...]]] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def record(module, _args, inputs):
            for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"]):
                self.rows.append((module.training, tuple(ids[mask.bool()].tolist())))

        model.register_forward_pre_hook(record, with_kwargs=True)


def _clean_ids(tokenizer, texts: pd.Series, max_length: int) -> set[tuple[int, ...]]:
    return {tuple(ids) for ids in tokenizer(texts.tolist(), truncation=True, max_length=max_length)["input_ids"]}


def test_training_sees_augmented_batches_and_evaluation_clean_ones(tokenizer) -> None:
    recorder = InputRecorder()
    # An evaluation after every step: augmentation must stop for it and start again for the next training batch.
    summary = ftlab.train(TrainConfig(
        dataset="rotten_tomatoes", augment="typos", augment_prob=1.0, max_steps=3, train_size=32, eval_size=16,
        test_size=16, batch_size=8, max_length=64, eval_steps=1, save_steps=3, log_steps=1, name="augment-typos",
    ), plugins=Plugins(callbacks=[recorder]), progress=False)
    assert summary["status"] == "finished"
    run_id = summary["run_id"]

    trained = [ids for training, ids in recorder.rows if training]
    scored = [ids for training, ids in recorder.rows if not training]
    assert len(trained) == 3 * 8
    assert len(scored) == 3 * 16 + 16  # three evaluations of the validation sample, then the test sample
    clean_train = _clean_ids(tokenizer, read_split(run_id, "train")["text"], 64)
    clean_scored = _clean_ids(tokenizer, pd.concat([read_split(run_id, s)["text"] for s in ("validation", "test")]), 64)
    # Every training text got a typo (probability 1); a typo past the 64-token cut could hide, so allow a little.
    augmented = sum(ids not in clean_train for ids in trained)
    assert augmented >= 0.9 * len(trained), f"only {augmented} of {len(trained)} training rows were augmented"
    assert all(ids in clean_scored for ids in scored), "an evaluation or test batch was augmented"


# -- (b) seeded, and fresh for every batch ----------------------------------------------------------------------

def test_the_same_seed_augments_the_same_way_and_each_batch_afresh() -> None:
    augmentation = Augmentation.build(TrainConfig(augment="typos,word-dropout,word-swap,synonyms", augment_prob=0.5))
    first = augmentation.apply(fx.AUGMENT_TEXTS, batch_rng(42, 0))
    assert augmentation.apply(fx.AUGMENT_TEXTS, batch_rng(42, 0)) == first
    assert augmentation.apply(fx.AUGMENT_TEXTS, batch_rng(7, 0)) != first
    assert augmentation.apply(fx.AUGMENT_TEXTS, batch_rng(42, 1)) != first  # the next batch (or epoch) draws anew

    picked = [p for batch in range(200) for p in augmentation.apply(fx.AUGMENT_TEXTS, batch_rng(42, batch))[1]]
    share = sum(p is not None for p in picked) / len(picked)
    assert 0.44 < share < 0.56, share  # --augment-prob 0.5 over 1,000 texts
    assert {p for p in picked if p} == {"typos", "word-dropout", "word-swap", "synonyms"}


Rows = list[tuple[int, ...]]


def _rows(batch) -> Rows:
    """A padded batch's input ids, row by row, without the padding."""
    return [tuple(ids[mask.bool()].tolist()) for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]


def _epochs_through_the_plugins(tokenizer, tmp_path: Path, seed: int) -> tuple[Rows, Rows, Rows]:
    """Two epochs of a training loader and one pass of an evaluation loader, each on the collator the trainer
    wraps for it (`FtlabTrainer` calls each wrapper with training=True for its training loader, False else)."""
    config = TrainConfig(augment="typos", augment_prob=1.0, seed=seed, max_length=64)
    frame = pd.DataFrame({"text": fx.AUGMENT_TEXTS, "label": ["negative", "positive"] * 2 + ["negative"]})
    task = get_task("classification")
    plugins = augment_plugins(OptionContext(config, frame, LABELS, tokenizer, task))
    data = task.encode(frame, tokenizer, config, LABELS, plugins.extra_columns)
    collators = {}
    for training in (True, False):
        collators[training] = task.collator(tokenizer, config)
        for wrap in plugins.collator_wrappers:
            collators[training] = wrap(collators[training], training)
    train_loader, eval_loader = (DataLoader(data, batch_size=len(frame), collate_fn=collators[training])
                                 for training in (True, False))
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    for callback in plugins.callbacks:
        callback.on_train_begin(args, TrainerState(), None, train_dataloader=train_loader)
    first, second = ([row for batch in train_loader for row in _rows(batch)] for _ in range(2))
    return first, second, _rows(next(iter(eval_loader)))


def test_only_the_training_loader_augments_seeded_and_fresh_each_epoch(tokenizer, tmp_path: Path) -> None:
    clean = [tuple(ids) for ids in tokenizer(fx.AUGMENT_TEXTS)["input_ids"]]
    first, second, evaluated = _epochs_through_the_plugins(tokenizer, tmp_path, seed=1)
    assert evaluated == clean
    assert all(row != original for row, original in zip(first, clean, strict=True))  # probability 1: all augmented
    assert first != second  # the second epoch draws new typos
    assert _epochs_through_the_plugins(tokenizer, tmp_path, seed=1)[:2] == (first, second)
    assert _epochs_through_the_plugins(tokenizer, tmp_path, seed=2)[0] != first


# -- (c) each augmenter changes text in its promised way --------------------------------------------------------

def _one_edit(a: str, b: str) -> str | None:
    """The single character edit that turns `a` into `b`, or None if it takes more (or none)."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return "substitute"
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and (a[diff[0]], a[diff[1]]) == (b[diff[1]], b[diff[0]])
        return "swap" if swapped else None
    if len(b) == len(a) - 1 and any(a[:i] + a[i + 1:] == b for i in range(len(a))):
        return "drop"
    if len(b) == len(a) + 1 and any(b[:i] + b[i + 1:] == a for i in range(len(b))):
        return "insert"
    return None


def test_typos_edit_one_character_in_each_chosen_word() -> None:
    kinds = set()
    for seed in SEEDS:
        for old, new in zip(fx.AUGMENT_TEXTS, typos(fx.AUGMENT_TEXTS, random.Random(seed))):
            n = edits_for(len(_words(old)))
            assert new != old and abs(len(new) - len(old)) <= n
            changed = [(a, b) for a, b in zip(_words(old), _words(new), strict=True) if a != b]
            assert 1 <= len(changed) <= n
            for a, b in changed:
                kinds.add(_one_edit(a, b))
    assert kinds == {"swap", "drop", "insert", "substitute"}


def test_word_dropout_removes_words_and_word_swap_reorders_them() -> None:
    for seed in SEEDS:
        rng = random.Random(seed)
        for old, new in zip(fx.AUGMENT_TEXTS, word_dropout(fx.AUGMENT_TEXTS, rng)):
            words, kept = _words(old), iter(_words(old))
            assert len(_words(new)) == len(words) - edits_for(len(words))
            assert all(word in kept for word in _words(new))  # the words left are in their order
        for old, new in zip(fx.AUGMENT_TEXTS, word_swap(fx.AUGMENT_TEXTS, rng)):
            assert new != old and sorted(_words(new)) == sorted(_words(old))


@pytest.fixture(scope="module")
def roget_categories() -> dict[str, set[str]]:
    """Each term's categories, read straight from the shipped file."""
    frame = pd.read_csv(str(THESAURUS), names=["term", "category"], keep_default_na=False, dtype=str)
    assert len(frame) > 200_000
    return frame.groupby("term")["category"].agg(set).to_dict()


def test_synonyms_come_from_the_thesaurus(roget_categories: dict[str, set[str]]) -> None:
    augmentation = Augmentation.build(TrainConfig(augment="synonyms"))
    for seed in SEEDS:
        texts, _ = augmentation.apply(fx.AUGMENT_TEXTS, random.Random(seed), 1.0)
        for old, new in zip(fx.AUGMENT_TEXTS, texts):
            changed = [(a, b) for a, b in zip(_words(old), _words(new), strict=True) if a != b]
            assert 1 <= len(changed) <= edits_for(len(_words(old)))
            for a, b in changed:
                word, synonym = _bare(a), _bare(b)
                assert word.lower() not in ENGLISH_STOP_WORDS
                assert roget_categories[word.lower()] & roget_categories[synonym.lower()], (word, synonym)
                assert a.replace(word, synonym) == b  # punctuation kept
                assert synonym[0].isupper() == word[0].isupper()  # and the capital


def test_embedding_neighbours_are_the_nearest_whole_word_tokens(tokenizer) -> None:
    from transformers import AutoModel

    unit = torch.nn.functional.normalize(load_pretrained(AutoModel, "minilm").get_input_embeddings().weight.detach(),
                                         dim=-1)
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(unit))))
    special = set(tokenizer.all_special_ids)
    whole = torch.tensor([t.isalpha() and len(t) > 1 and t not in ENGLISH_STOP_WORDS and i not in special
                          for i, t in enumerate(vocab)])
    augmentation = Augmentation.build(TrainConfig(augment="embedding-neighbours"), tokenizer)
    for seed in range(5):
        texts, _ = augmentation.apply(fx.AUGMENT_TEXTS, random.Random(seed), 1.0)
        for old, new in zip(fx.AUGMENT_TEXTS, texts):
            changed = [(_bare(a).lower(), _bare(b).lower()) for a, b in zip(_words(old), _words(new), strict=True)
                       if a != b]
            assert changed
            for word, neighbour in changed:
                word_id = tokenizer.convert_tokens_to_ids(word)
                similarity = torch.where(whole, unit @ unit[word_id], -torch.inf)
                similarity[word_id] = -torch.inf
                assert neighbour in [vocab[i] for i in similarity.topk(NEIGHBOURS_K).indices], (word, neighbour)


def test_preview_shows_each_text_beside_its_augmented_version() -> None:
    table = preview(fx.AUGMENT_TEXTS, TrainConfig(augment="typos,word-swap"), n=4)
    assert list(table.columns) == ["augmenter", "original", "augmented"]
    assert list(table["original"]) == fx.AUGMENT_TEXTS[:4]
    assert (table["original"] != table["augmented"]).all()
    assert set(table["augmenter"]) <= {"typos", "word-swap"}


# -- (d) back-translation -------------------------------------------------------------------------------------

TRANSLATION_HUB_IDS = "Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en"


def test_backtranslation_offline_says_it_needs_internet_or_local_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="--augment-translation-models") as error:
        TrainConfig(augment="backtranslation", augment_translation_models=TRANSLATION_HUB_IDS)
    assert "internet" in str(error.value) and "local model folders" in str(error.value)
    # A config checked while online, trained offline: building the augmenter says the same.
    config = TrainConfig(augment="typos")
    config.augment, config.augment_translation_models = "backtranslation", TRANSLATION_HUB_IDS
    with pytest.raises(UserError, match="needs internet access"):
        Augmentation.build(config)


@pytest.fixture(scope="module")
def tiny_translator(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> Path:
    """A tiny, untrained BERT encoder-decoder with MiniLM's tokenizer, saved as a local model folder: it translates
    into nonsense, but through the same loading and generation as a real translation model."""
    from transformers import BertConfig, EncoderDecoderConfig, EncoderDecoderModel

    small = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        BertConfig(**small), BertConfig(**small, is_decoder=True, add_cross_attention=True))
    config.decoder_start_token_id, config.pad_token_id = tokenizer.cls_token_id, tokenizer.pad_token_id
    config.eos_token_id = tokenizer.sep_token_id
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("translator")
    EncoderDecoderModel(config=config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_backtranslation_runs_through_two_local_models(tiny_translator: Path) -> None:
    config = TrainConfig(augment="backtranslation", augment_translation_models=f"{tiny_translator},{tiny_translator}",
                         max_length=12)
    augmentation = Augmentation.build(config)
    texts, picked = augmentation.apply(fx.AUGMENT_TEXTS, random.Random(0), 1.0)
    assert picked == ["backtranslation"] * len(fx.AUGMENT_TEXTS)
    assert all(isinstance(text, str) for text in texts) and texts != fx.AUGMENT_TEXTS
    assert augmentation.apply(fx.AUGMENT_TEXTS, random.Random(1), 1.0)[0] == texts  # greedy: same text, same way back


def test_backtranslation_with_a_model_that_does_not_translate() -> None:
    minilm = resolve_model("minilm")  # an encoder only
    config = TrainConfig(augment="backtranslation", augment_translation_models=f"{minilm},{minilm}")
    with pytest.raises(UserError, match="could not load the translation model"):
        Augmentation.build(config)


# -- (e) bad values ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, flag", [
    ({"augment": "nope"}, "--augment"),
    ({"augment": "typos,,synonyms"}, "--augment"),
    ({"augment": "none,typos"}, "--augment"),
    ({"augment": "typos", "augment_prob": 0}, "--augment-prob"),
    ({"augment": "typos", "augment_prob": 1.5}, "--augment-prob"),
    ({"augment": "typos", "task": "ner", "dataset": "wnut16"}, "--augment"),
    ({"augment": "backtranslation"}, "--augment-translation-models"),
    ({"augment": "backtranslation", "augment_translation_models": "only-one"}, "--augment-translation-models"),
])
def test_bad_values_name_the_flag(values: dict, flag: str) -> None:
    with pytest.raises(UserError, match=re.escape(flag)):
        TrainConfig(**values)


def test_an_unknown_augmenter_lists_the_known_ones() -> None:
    with pytest.raises(UserError) as error:
        TrainConfig(augment="typo")
    assert all(spec.name in str(error.value) for spec in list_augmenters())


def test_the_cli_refuses_a_bad_augment_before_training(fresh_home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--augment", "typos", "--augment-prob", "1.5", "--max-steps", "1"]) == 2
    assert "--augment-prob must be greater than 0 and at most 1" in capsys.readouterr().err
    assert not any((fresh_home / "runs").glob("*"))
