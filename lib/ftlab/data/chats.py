"""Instruction data for the `sft` task: a user's JSONL chats, and the built-in instruction set.

Every chat frame has `messages` (the chat as a JSON string: a list of {role, content} ending with the
assistant's answer), `text` (the last user turn: what tables and slices show) and `response` (the final
answer). Where the answers are a handful of short labels (causal classification: "positive" / "negative"), it
also has `label`, and a run is scored by the exact match of its generated answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ftlab.chat import check_messages
from ftlab.data.files import _decode, _read_utf8, check_path
from ftlab.data.registry import DatasetSpec, register_dataset
from ftlab.errors import UserError

MAX_LABELS = 20
"""Answers are treated as labels when there are at most this many distinct ones, each of at most 3 words."""

SENTIMENT_INSTRUCTION = "Is this movie review positive or negative?\n\n{review}"
SENTIMENT_ANSWERS = {"fresh": "positive", "rotten": "negative"}


def chat_frame(chats: list[list[dict[str, str]]], metadata: pd.DataFrame | None = None) -> pd.DataFrame:
    """The standard chat frame of checked chats (see the module docstring), with metadata columns carried."""
    frame = pd.DataFrame({
        "messages": [json.dumps(chat, ensure_ascii=False) for chat in chats],
        "text": [next(m["content"] for m in reversed(chat) if m["role"] == "user") for chat in chats],
        "response": [chat[-1]["content"] for chat in chats],
    })
    answers = frame["response"].str.strip()
    if answers.nunique() <= MAX_LABELS and answers.str.split().str.len().max() <= 3 and len(frame) > answers.nunique():
        frame["label"] = answers
    if metadata is not None:
        for column in metadata.columns:
            if column not in frame:
                frame[column] = metadata[column].to_numpy()
    return frame


def messages_of(row: Any) -> list[dict[str, str]]:
    """The chat of one frame row."""
    return json.loads(row["messages"] if isinstance(row, (dict, pd.Series)) else row)


def read_chat_file(path: str | Path) -> pd.DataFrame:
    """A JSONL file of chats: each line holds `messages`, or `prompt` and `response` (and optionally `system`).
    Any other key is kept as metadata. Errors name the line and the fix."""
    path = check_path(Path(path).expanduser())
    if path.suffix.lower() not in (".jsonl", ".json"):
        raise UserError(f"{path.name}: the sft task reads JSON lines (.jsonl), one chat per line, e.g. "
                        '{"prompt": "Translate to French: cat", "response": "chat"}.')
    lines = [(n, line) for n, line in enumerate(_read_utf8(path).splitlines(), start=1) if line.strip()]
    if not lines:
        raise UserError(f"{path} has no chats. Add one JSON object per line, with `messages` or `prompt`/`response`.")
    chats, extras = [], []
    for n, line in lines:
        record = _decode(line, path, line_offset=n - 1)
        chats.append(_chat_of(record, f"{path.name} line {n}"))
        extras.append({k: v for k, v in record.items() if k not in ("messages", "prompt", "response", "system")
                       and k not in ("text", "label")})
    return chat_frame(chats, pd.DataFrame.from_records(extras) if any(extras) else None)


def _chat_of(record: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(record, dict):
        raise UserError(f"{where} is a JSON {type(record).__name__}, not an object with `messages` or `prompt`/"
                        "`response`.")
    if "messages" in record:
        return check_messages(record["messages"], where)
    missing = [key for key in ("prompt", "response") if key not in record]
    if missing:
        raise UserError(f"{where} has no {' and no '.join(f'`{k}`' for k in missing)} (its keys: "
                        f"{', '.join(record) or 'none'}). Each line needs `messages` (a chat) or `prompt` and "
                        "`response`.")
    for key in ("prompt", "response", "system"):
        if key in record and not isinstance(record[key], str):
            raise UserError(f"{where}: `{key}` must be text, got {record[key]!r}.")
    if not record["prompt"].strip():
        raise UserError(f"{where}: the prompt is empty; give the instruction the response answers.")
    system = [{"role": "system", "content": record["system"]}] if record.get("system") else []
    return check_messages(system + [{"role": "user", "content": record["prompt"]},
                                    {"role": "assistant", "content": record["response"]}], where)


def sentiment_instructions() -> pd.DataFrame:
    """rotten_tomatoes as instructions: "Is this movie review positive or negative? <review>" -> the one word."""
    from ftlab.data.rotten_tomatoes import load

    reviews = load()
    chats = [[{"role": "user", "content": SENTIMENT_INSTRUCTION.format(review=text)},
              {"role": "assistant", "content": SENTIMENT_ANSWERS[label]}]
             for text, label in zip(reviews["text"], reviews["label"])]
    frame = chat_frame(chats, reviews[["movie_name"]])
    frame["text"] = reviews["text"].to_numpy()  # tables and slices show the review, not the instruction around it
    return frame


SPEC = register_dataset(DatasetSpec(
    name="rotten_tomatoes_instructions",
    task="sft",
    load=sentiment_instructions,
    description="The 12,752 rotten_tomatoes reviews as chat instructions ('Is this movie review positive or "
                "negative?' -> positive / negative), for instruction tuning a causal LM; split by film.",
    group_col="movie_name",
))
