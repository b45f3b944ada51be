"""The NER task: first-sub-token label alignment through the real collator, seqeval's entity report, and entity
character offsets that slice the input text back."""

from __future__ import annotations

import pandas as pd
import pytest

import fixtures as fx
from ftlab.config import TrainConfig
from ftlab.models import load_tokenizer
from ftlab.tasks import get_task
from ftlab.tasks.ner import IGNORED, entities, ner_metrics


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def test_first_sub_token_carries_the_tag_through_the_collator(tokenizer) -> None:
    task = get_task("ner")
    words, tags = fx.NER_SPLIT_WORDS
    frame = pd.DataFrame({"tokens": [words, words[:2]], "tags": [tags, tags[:2]]})
    labels = task.labels_of(frame)
    config = TrainConfig(task="ner", dataset="wnut16")
    dataset = task.encode(frame, tokenizer, config, labels)
    batch = task.collator(tokenizer, config)([dataset[i] for i in range(len(dataset))])
    assert batch["labels"].shape == batch["input_ids"].shape  # padded together
    ids, aligned = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    pieces = [tokenizer.tokenize(word) for word in words]
    assert any(len(p) > 1 for p in pieces)  # the fixture really splits words
    expected = [IGNORED]  # [CLS]
    for word_pieces, tag in zip(pieces, tags):
        expected += [labels.index(tag)] + [IGNORED] * (len(word_pieces) - 1)
    expected += [IGNORED]  # [SEP]
    assert aligned[:len(expected)] == expected
    assert tokenizer.convert_ids_to_tokens(ids[1:1 + len(pieces[0])]) == pieces[0]
    # The shorter sentence is padded with ignored labels.
    short = 2 + sum(len(p) for p in pieces[:2])  # [CLS], the two words' pieces, [SEP]
    assert batch["labels"][1].tolist()[short:] == [IGNORED] * (len(expected) - short)
    assert batch["attention_mask"][1].tolist()[short:] == [0] * (len(expected) - short)


def test_seqeval_report_equals_the_hand_computed_one() -> None:
    metrics = ner_metrics(fx.SEQEVAL_GOLD, fx.SEQEVAL_PRED)
    for name, value in fx.SEQEVAL_EXPECTED.items():
        assert metrics[name] == pytest.approx(value), name


def test_entity_offsets_slice_the_text_back() -> None:
    from ftlab.explain.words import split_words

    text = "Met  Ann Lee in New-York, then Apple!"
    words = split_words(text)
    tags = ["O"] * len(words)
    tags[1], tags[2] = "B-person", "I-person"
    tags[words.words.index("New")], tags[words.words.index("York")] = "B-geo-loc", "I-geo-loc"
    tags[words.words.index("-")] = "I-geo-loc"
    tags[words.words.index("Apple")] = "I-company"  # opened with I-: read as an entity all the same
    found = entities(tags, list(words.words), list(words.spans), text, [0.9] * len(words))
    assert [(e["type"], e["text"]) for e in found] == [("person", "Ann Lee"), ("geo-loc", "New-York"),
                                                        ("company", "Apple")]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in found)
