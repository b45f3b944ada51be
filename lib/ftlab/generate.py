"""Generation from a causal LM run: batched answers (scoring, `ftlab predict`), one streamed answer (the app's
chat panel), and the same prompt answered by the base model and the fine-tuned one (`ftlab generate --compare`).

Prompts go through the model's chat template. Batches are padded on the left, so that every chat's next token
follows its own last token.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch

from ftlab.chat import ROLES, check_messages, prompt_ids
from ftlab.errors import UserError

log = logging.getLogger("ftlab")

_GENERATING = threading.Lock()

MAX_NEW_TOKENS = 2048
"""The most tokens one answer may ask for: more would run for minutes on a CPU."""


def check_generation(max_new_tokens: int, temperature: float) -> None:
    if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise UserError(f"--max-new-tokens must be a whole number from 1 to {MAX_NEW_TOKENS}, got {max_new_tokens!r}; "
                        "e.g. --max-new-tokens 64.")
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 5:
        raise UserError(f"--temperature must be a number from 0 to 5, got {temperature!r}; 0 picks the likeliest "
                        "token each time (greedy), 0.7 samples.")


def _sampling(temperature: float, tokenizer: Any) -> dict[str, Any]:
    common = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    if temperature == 0:
        return {**common, "do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {**common, "do_sample": True, "temperature": float(temperature)}


def _context_length(model: Any, max_new_tokens: int, max_length: int | None) -> int:
    """The most prompt tokens to keep: the run's --max-length, within what the model can attend to."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None) or 2048
    return max(1, min(max_length or limit, limit - max_new_tokens))


def generate_answers(model: Any, tokenizer: Any, chats: list[list[dict[str, str]]], *, max_new_tokens: int,
                     temperature: float = 0.0, batch_size: int = 16, max_length: int | None = None) -> list[str]:
    """The assistant's next answer to each chat, greedy unless `temperature` > 0."""
    check_generation(max_new_tokens, temperature)
    keep = _context_length(model, max_new_tokens, max_length)
    prompts = [prompt_ids(tokenizer, chat, keep) for chat in chats]
    if cut := sum(truncated for _, truncated in prompts):
        log.warning("%d of %d prompts are longer than %d tokens; their oldest tokens were dropped", cut, len(prompts),
                    keep)
    device = next(model.parameters()).device
    model.eval()
    answers: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = [ids for ids, _ in prompts[start:start + batch_size]]
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(ids)) + ids for ids in batch], device=device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device)
        with torch.inference_mode():
            out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 **_sampling(temperature, tokenizer))
        answers += [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in out]
    return answers


def stream_answer(model: Any, tokenizer: Any, chat: list[dict[str, str]], *, max_new_tokens: int = 128,
                  temperature: float = 0.0, max_length: int | None = None, base: bool = False) -> Iterator[str]:
    """The answer to one chat, yielded piece by piece as the tokens are generated (`base`: with the run's
    adapter switched off, i.e. the model before fine-tuning)."""
    from transformers import TextIteratorStreamer

    check_generation(max_new_tokens, temperature)
    ids, truncated = prompt_ids(tokenizer, chat, _context_length(model, max_new_tokens, max_length))
    if truncated:
        log.warning("the prompt is longer than %d tokens; its oldest tokens were dropped", len(ids))
    device = next(model.parameters()).device
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            # One generation at a time per process: a second session must not switch the shared adapter off
            # under a generation that is using it.
            with _GENERATING, adapter_off(model) if base else nullcontext(), torch.inference_mode():
                model.generate(input_ids=torch.tensor([ids], device=device), max_new_tokens=max_new_tokens,
                               streamer=streamer, **_sampling(temperature, tokenizer))
        except BaseException as exc:  # reported in the caller's thread, after the streamer is closed
            failure.append(exc)
            streamer.end()

    model.eval()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    yield from (piece for piece in streamer if piece)
    worker.join()
    if failure:
        raise failure[0]


@contextmanager
def adapter_off(model: Any) -> Iterator[None]:
    """The base model's behaviour: a peft adapter switched off for the duration."""
    if not hasattr(model, "disable_adapter"):
        raise UserError("This run trained the whole model, so it has no adapter to switch off; compare it with its "
                        "base model by loading that separately.")
    with model.disable_adapter():
        yield


def user_chat(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """A one-turn chat asking `prompt` (checked: a non-empty text)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError("The prompt is empty: give the instruction to answer, e.g. --prompt 'Is this review positive "
                        "or negative? A warm, funny film.'")
    chat = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    check_messages(chat + [{"role": "assistant", "content": "-"}], "the prompt")
    return chat


def check_chat(chat: Any) -> list[dict[str, str]]:
    """A conversation so far (the app's chat history plus the new user turn), checked like training chats."""
    checked = check_messages(list(chat) + [{"role": "assistant", "content": "-"}], "the chat")[:-1]
    if checked[-1]["role"] != "user":
        raise UserError(f"The chat must end with a user message to answer; roles are {', '.join(ROLES)}.")
    return checked


def causal_run(run_id: str) -> tuple[Any, Any, Any]:
    """(model, tokenizer, config) of a finished sft run; any other run is refused with what to use instead."""
    from ftlab.evaluate import load_trained
    from ftlab.runs import read_config

    config = read_config(run_id)
    if config.task != "sft":
        raise UserError(f"Run '{run_id}' is a {config.task} run, which predicts labels rather than generating text: "
                        f"use `ftlab predict {run_id} --text ...`, or generate with an sft run "
                        "(`ftlab train --task sft --model smollm2-135m`).")
    model, tokenizer, config, _, _ = load_trained(run_id)
    return model, tokenizer, config


def base_model(run_id: str) -> Any:
    """The run's model before fine-tuning: the same object with its adapter switched off where it has one
    (use with `adapter_off`), else the base model loaded afresh."""
    model, _, config = causal_run(run_id)
    if hasattr(model, "disable_adapter"):
        return model
    return _load_base(config.model, config.trust_remote_code)


@functools.lru_cache(maxsize=1)
def _load_base(name: str, trust_remote_code: bool) -> Any:
    from ftlab.tasks import get_task

    return get_task("sft").load_model(name, [], trust_remote_code=trust_remote_code).eval()


def generate_for_run(run_id: str, prompt: str, *, system: str | None = None, max_new_tokens: int = 128,
                     temperature: float = 0.0, compare: bool = False,
                     on_piece: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """The fine-tuned run's answer to `prompt` (and, with `compare`, the base model's), with timings.
    `on_piece(key, piece)` sees each answer ("response", then "base_response") as it is generated."""
    check_generation(max_new_tokens, temperature)
    chat = user_chat(prompt, system)
    model, tokenizer, config = causal_run(run_id)
    result: dict[str, Any] = {"run_id": run_id, "prompt": prompt}
    for key, use_base in [("response", False), ("base_response", True)][:2 if compare else 1]:
        started, pieces = time.perf_counter(), []
        for piece in stream_answer(base_model(run_id) if use_base else model, tokenizer, chat,
                                   max_new_tokens=max_new_tokens, temperature=temperature,
                                   max_length=config.max_length, base=use_base and hasattr(model, "disable_adapter")):
            pieces.append(piece)
            if on_piece is not None:
                on_piece(key, piece)
        result[key] = "".join(pieces).strip()
        result[f"{key}_seconds"] = round(time.perf_counter() - started, 3)
    return result
