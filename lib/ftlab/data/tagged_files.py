"""Load a user's own NER file into the standard frame: one row per sentence, `tokens` and `tags` (IOB2).

Formats:
- CoNLL (.conll, .txt, .tsv, .iob, .bio): a token and its tag per line, separated by a tab or spaces (the first
  field is the token, the last the tag, so CoNLL-2003's four columns work); a blank or whitespace-only line ends a
  sentence; `-DOCSTART-` lines are skipped.
- JSON lines (.jsonl, .json): one object per sentence with `tokens` and `tags`, two lists of strings of one length;
  any other field is kept as metadata.

Tags in IOB1, IOB2 (BIO) or BIOES are converted to IOB2 (`ftlab.data.tag_schemes`). Every problem is a `UserError`
naming the line and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ftlab.data.files import _read_utf8
from ftlab.data.tag_schemes import TagError, convert_to_iob2
from ftlab.errors import UserError

CONLL_SUFFIXES = (".conll", ".txt", ".tsv", ".iob", ".bio")
JSON_SUFFIXES = (".jsonl", ".json")
DOCSTART = "-DOCSTART-"


def load_tagged(path: str | Path, scheme: str = "auto") -> pd.DataFrame:
    """Read a CoNLL or JSON lines NER file; tags converted from `scheme` ("auto" detects it) to IOB2."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if path.is_dir() or not path.exists():
        raise UserError(f"No file at {path} (relative paths start from {Path.cwd()}). Check the spelling of the path.")
    if suffix not in CONLL_SUFFIXES + JSON_SUFFIXES:
        raise UserError(f"{path.name} has the unsupported extension '{path.suffix}' for NER data. Supported: CoNLL "
                        f"({', '.join(CONLL_SUFFIXES)}) with a token and its tag per line, or JSON lines "
                        f"({', '.join(JSON_SUFFIXES)}) with \"tokens\" and \"tags\" per sentence.")
    content = _read_utf8(path)
    frame, lines = (_read_jsonl(content, path) if suffix in JSON_SUFFIXES else _read_conll(content, path))
    if frame.empty:
        raise UserError(f"{path} holds no sentences. Add tagged sentences: a token and its tag per line, a blank "
                        "line between sentences.")
    try:
        iob2, _ = convert_to_iob2(frame["tags"].tolist(), scheme)
    except TagError as exc:
        sentence_lines = lines[exc.sentence or 0]
        raise UserError(f"{path}, line {sentence_lines[min(exc.position, len(sentence_lines) - 1)]}: {exc}.") from None
    return frame.assign(tags=iob2)


def with_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with `text`, its words joined by spaces: what tables show, and what splits group by so that a
    sentence repeated in the data (retweets, in WNUT) never lands in two splits."""
    return frame.assign(text=frame["tokens"].map(" ".join))


def _read_conll(content: str, path: Path) -> tuple[pd.DataFrame, list[list[int]]]:
    """(the sentences, each token's line number per sentence)."""
    sentences: list[tuple[list[str], list[str]]] = []
    lines: list[list[int]] = []
    tokens: list[str] = []
    tags: list[str] = []
    numbers: list[int] = []
    for number, line in enumerate(content.splitlines(), start=1):
        fields = line.split()
        if fields and fields[0] == DOCSTART:
            continue
        if not fields:
            if tokens:
                sentences.append((tokens, tags))
                lines.append(numbers)
            tokens, tags, numbers = [], [], []
            continue
        if len(fields) < 2:
            raise UserError(f"{path}, line {number}: '{line.strip()[:60]}' has a token but no tag. Each line holds "
                            "a token and its tag separated by a tab or spaces (e.g. 'Paris<TAB>B-LOC'); a blank line "
                            "ends a sentence.")
        tokens.append(fields[0])
        tags.append(fields[-1])
        numbers.append(number)
    if tokens:  # the last sentence may lack a closing blank line
        sentences.append((tokens, tags))
        lines.append(numbers)
    return pd.DataFrame(sentences, columns=["tokens", "tags"]), lines


def _read_jsonl(content: str, path: Path) -> tuple[pd.DataFrame, list[list[int]]]:
    records, lines = [], []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}, line {number} is not valid JSON ({exc.msg}, column {exc.colno}). Each line "
                            'holds one sentence, like {"tokens": ["Paris", "rocks"], "tags": ["B-LOC", "O"]}.') from None
        _check_record(record, path, number)
        records.append(record)
        lines.append([number] * len(record["tokens"]))
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=["tokens", "tags"])
    return frame, lines


def _check_record(record: object, path: Path, number: int) -> None:
    where = f"{path}, line {number}"
    if not isinstance(record, dict) or "tokens" not in record or "tags" not in record:
        raise UserError(f'{where} needs an object with "tokens" and "tags", like {{"tokens": ["Paris", "rocks"], '
                        '"tags": ["B-LOC", "O"]}.')
    tokens, tags = record["tokens"], record["tags"]
    for name, values in (("tokens", tokens), ("tags", tags)):
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise UserError(f'{where}: "{name}" must be a list of non-empty strings.')
    if not tokens:
        raise UserError(f"{where} is an empty sentence (no tokens). Delete that line.")
    if len(tokens) != len(tags):
        raise UserError(f"{where} has {len(tokens)} tokens but {len(tags)} tags: give every token exactly one tag "
                        "(O outside entities).")
