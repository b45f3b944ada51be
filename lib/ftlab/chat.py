"""Chats as a causal LM sees them: checked messages, the model's chat template, and labels that train only on
what the assistant says.

A chat is a list of `{"role", "content"}` messages ending with the assistant's answer. It is rendered with the
tokenizer's own chat template, piece by piece, so that every token of a system or user turn (and of the
template's headers) gets the label -100 and only the assistant's turns (with their end-of-turn token, so the
model learns to stop) are learned. Each piece is tokenized on its own, as generation tokenizes a prompt and then
appends what it generates, so training sees the token boundaries that inference will.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ftlab.errors import UserError

log = logging.getLogger("ftlab")

ROLES = ("system", "user", "assistant")
IGNORE = -100
"""Label of a token that is not learned (PyTorch's cross-entropy ignore index)."""


def check_messages(messages: Any, where: str) -> list[dict[str, str]]:
    """`messages` as a clean list of {role, content}, or a UserError naming `where` (e.g. "line 3") and the fix.

    A training chat needs a user turn before the first assistant turn and must end with a non-empty answer.
    """
    example = 'e.g. [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]'
    if not isinstance(messages, list) or not messages:
        raise UserError(f"{where}: `messages` must be a non-empty list of {{role, content}} objects, {example}.")
    clean = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise UserError(f"{where}: message {i + 1} must be an object with `role` and `content`, {example}.")
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise UserError(f"{where}: message {i + 1} has the unknown chat role {role!r}; use one of "
                            f"{', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise UserError(f"{where}: message {i + 1} ({role}) has content {content!r}; it must be text.")
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] != "assistant":
        raise UserError(f"{where}: the chat must end with the assistant's answer (its last message is "
                        f"{clean[-1]['role']!r}); add the answer the model should learn as a final assistant message.")
    if not clean[-1]["content"].strip():
        raise UserError(f"{where}: the assistant's answer is empty; give the response the model should learn, or "
                        "drop this example.")
    first_user = next((i for i, m in enumerate(clean) if m["role"] == "user"), None)
    first_answer = next(i for i, m in enumerate(clean) if m["role"] == "assistant")
    if first_user is None or first_user > first_answer:
        raise UserError(f"{where}: the chat has no user message before the assistant's first answer; add the "
                        "user's request the answer replies to.")
    return clean


def render(tokenizer: Any, messages: list[dict[str, str]], *, add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def chat_pieces(tokenizer: Any, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """The rendered chat cut into (text, learned) pieces: learned pieces are the assistant's turns."""
    pieces: list[tuple[str, bool]] = []
    done = ""  # the rendering covered by pieces so far
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render(tokenizer, messages[:i], add_generation_prompt=True)
        with_answer = render(tokenizer, messages[:i + 1])
        # Where a template renders the earlier turns differently once an answer follows, the answer starts where
        # the two renderings part.
        start = _common_prefix(prompt, with_answer)
        if not with_answer.startswith(done):
            done = with_answer[:_common_prefix(done, with_answer)]
        pieces += [(with_answer[len(done):start], False), (with_answer[start:], True)]
        done = with_answer
    return [(text, learned) for text, learned in pieces if text]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass
class EncodedChat:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> EncodedChat:
    """Token ids and labels (-100 on every non-assistant token) of one chat, at most `max_length` tokens.

    A longer chat keeps its final answer and loses the oldest prompt tokens, though never more of the prompt
    than leaves it a quarter of `max_length`; an answer that still does not fit is cut at its end.
    """
    ids: list[int] = []
    labels: list[int] = []
    for text, learned in chat_pieces(tokenizer, messages):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if learned else [IGNORE] * len(piece)
    if len(ids) <= max_length:
        return EncodedChat(ids, labels, truncated=False)
    answer_start = max(i for i, label in enumerate(labels) if label == IGNORE) + 1  # the final answer's first token
    kept_prompt = max(max_length // 4, max_length - (len(ids) - answer_start))
    start = max(0, answer_start - kept_prompt)
    return EncodedChat(ids[start:start + max_length], labels[start:start + max_length], truncated=True)


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> tuple[list[int], bool]:
    """Token ids of the prompt that asks for the next assistant turn after `messages`, keeping the newest
    `max_length` tokens; and whether it had to be cut."""
    ids = tokenizer(render(tokenizer, messages, add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    return (ids[-max_length:], True) if len(ids) > max_length else (ids, False)


def warn_truncated(count: int, total: int, max_length: int, what: str = "chats") -> None:
    if count:
        log.warning("%d of %d %s are longer than --max-length %d tokens and were truncated (the oldest prompt tokens "
                    "go first); raise --max-length to keep them whole", count, total, what, max_length)
