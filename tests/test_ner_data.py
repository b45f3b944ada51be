"""NER data: tag schemes read into spans and written as IOB2, CoNLL and JSON lines files, and their bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import fixtures as fx
from ftlab.data.tag_schemes import Span, convert_to_iob2, detect_scheme, spans_of
from ftlab.data.tagged_files import load_tagged
from ftlab.errors import UserError


@pytest.mark.parametrize("tags, scheme", [(fx.NER_IOB2, "iob2"), (fx.NER_IOB1, "iob1"), (fx.NER_BIOES, "bioes"),
                                          (fx.NER_BILOU, "bioes")])
def test_every_scheme_converts_to_the_same_iob2(tags: list[list[str]], scheme: str) -> None:
    assert detect_scheme(tags) == scheme
    assert convert_to_iob2(tags) == (fx.NER_IOB2, scheme)
    assert convert_to_iob2(tags, scheme) == (fx.NER_IOB2, scheme)


def test_spans_of_each_scheme() -> None:
    expected = [Span("PER", 0, 2), Span("LOC", 3, 6)]
    assert spans_of(fx.NER_IOB2[0], "iob2") == expected
    assert spans_of(fx.NER_BIOES[0], "bioes") == expected
    iob1, iob2 = fx.IOB1_ADJACENT
    assert spans_of(iob1, "iob1") == spans_of(iob2, "iob2") == [Span("PER", 0, 1), Span("PER", 1, 2)]
    assert convert_to_iob2([iob1], "iob1")[0] == [iob2]


@pytest.mark.parametrize("tags, scheme, expected", [
    (["O", "I-LOC"], "iob2", ["'I-LOC' opens an entity", "B-LOC", "--tag-scheme iob1"]),
    (["B-PER", "O"], "bioes", ["followed by O", "ends with E-"]),
    (["E-PER"], "bioes", ["never began with B-PER"]),
    (["B-PER", "I-PER"], "bioes", ["ends inside an entity"]),
    (["S-PER"], "iob2", ["BIOES tag", "--tag-scheme bioes"]),
    (["PER"], "iob2", ["no known tag scheme", "B-person"]),
])
def test_invalid_sequences_name_the_rule(tags: list[str], scheme: str, expected: list[str]) -> None:
    with pytest.raises(UserError) as err:
        spans_of(tags, scheme)
    assert all(part in str(err.value) for part in expected), str(err.value)


def test_unknown_scheme_name_lists_the_choices() -> None:
    with pytest.raises(UserError, match="Unknown tag scheme 'iob3'.*auto, iob1, iob2, bioes"):
        convert_to_iob2(fx.NER_IOB2, "iob3")
    assert convert_to_iob2(fx.NER_IOB2, "BIO")[1] == "iob2"


@pytest.mark.parametrize("name, content", [("train.conll", fx.NER_CONLL), ("train.jsonl", fx.NER_JSONL)])
def test_conll_and_jsonl_files_load_the_same_sentences(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    frame = load_tagged(path)
    assert frame["tokens"].tolist() == fx.NER_TOKENS and frame["tags"].tolist() == fx.NER_IOB2
    if name.endswith(".jsonl"):
        assert frame["source"].tolist() == ["a", "b"]  # other fields are kept as metadata


def test_a_bioes_file_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "train.bio"
    path.write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in zip(tokens, tags))
                                for tokens, tags in zip(fx.NER_TOKENS, fx.NER_BIOES)), encoding="utf-8")
    assert load_tagged(path)["tags"].tolist() == fx.NER_IOB2


@pytest.mark.parametrize("name, content, expected", [
    ("a.conll", fx.CONLL_NO_TAG, ["line 2", "'Smith' has a token but no tag"]),
    ("a.conll", fx.CONLL_UNKNOWN_SCHEME, ["line 1", "'PER' is in no known tag scheme"]),
    ("a.conll", fx.CONLL_BIOES_BROKEN, ["line 2", "in BIOES an entity ends with E-"]),
    ("a.conll", fx.CONLL_IOB2_BROKEN, ["line 2", "opens an entity"]),
    ("a.jsonl", fx.JSONL_LENGTHS_DIFFER, ["line 1", "2 tokens but 1 tags"]),
    ("a.jsonl", fx.JSONL_EMPTY_SENTENCE, ["line 2", "empty sentence"]),
    ("a.jsonl", '{"tokens": ["a"]\n', ["line 1 is not valid JSON"]),
    ("a.conll", "\n \n", ["holds no sentences"]),
    ("a.csv", "text,label\n", ["unsupported extension '.csv'", "CoNLL"]),
])
def test_bad_files_name_the_line_and_the_fix(tmp_path: Path, name: str, content: str, expected: list[str]) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    scheme = "iob2" if content == fx.CONLL_IOB2_BROKEN else "auto"
    with pytest.raises(UserError) as err:
        load_tagged(path, scheme)
    assert all(part in str(err.value) for part in expected), str(err.value)
