"""The HTTP contract of `ftlab serve`: request and response models, and every rejected request as one sentence that
names the problem and the fix (FastAPI's own 422 `detail` list stays beside it for programs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictStr

EXAMPLE = '{"texts": ["A warm, funny film.", "Dull and far too long."]}'


class PredictRequest(BaseModel):
    texts: list[StrictStr] = Field(description="The texts to predict, one result per text, in order.",
                                   examples=[["A warm, funny film.", "Dull and far too long."]])


class ClassPrediction(BaseModel):
    label: str
    probabilities: dict[str, float] = Field(description="Every label's probability (they sum to 1).")
    confidence: float = Field(description="The predicted label's probability.")


class Entity(BaseModel):
    text: str
    type: str
    start: int = Field(description="Character offset of the entity in the text.")
    end: int
    score: float = Field(description="The mean probability of the entity's word tags.")


class EntityPrediction(BaseModel):
    entities: list[Entity]


class MultiTaskPrediction(BaseModel):
    tasks: dict[str, ClassPrediction] = Field(description="Every head's answer (which one applies is yours to judge).")


Prediction = ClassPrediction | EntityPrediction | MultiTaskPrediction


class PredictResponse(BaseModel):
    run_id: str
    predictions: list[Prediction]


class Limits(BaseModel):
    max_batch: int = Field(description="Most texts in one request.")
    max_chars: int = Field(description="Most characters in one text.")


class Info(BaseModel):
    run_id: str
    model: str
    method: str
    task: str
    labels: list[str]
    test_metrics: dict[str, float] = Field(description="The run's metrics on its test split, without the prefix.")
    int8: bool = Field(description="Served by a dynamically int8-quantized copy of the model.")
    limits: Limits


class Health(BaseModel):
    status: str
    run_id: str


def problem(error: dict[str, Any], limits: Limits) -> str:
    """One pydantic/FastAPI validation error as a sentence: what is wrong and how to fix it."""
    loc = [part for part in error.get("loc", ()) if part != "body"]
    kind, where = error.get("type", ""), _where(loc)
    if kind == "json_invalid" or (kind == "missing" and not loc):
        return f"The request body is not valid JSON; send a JSON object like {EXAMPLE}."
    if kind == "missing":
        return f"The request has no '{loc[0]}' field; send a JSON object like {EXAMPLE}."
    if kind in ("model_attributes_type", "dict_type"):
        return f"The request body must be a JSON object, not {_kind(error.get('input'))}; send {EXAMPLE}."
    if kind == "list_type":
        return f"'texts' must be a list of strings, not {_kind(error.get('input'))}; wrap it in [...]: {EXAMPLE}."
    if kind == "string_type":
        return (f"{where} is {_kind(error.get('input'))}, not a string; send every text as a JSON string, "
                f"e.g. {EXAMPLE}.")
    if kind == "empty_list":
        return f"'texts' is an empty list: nothing to predict; send at least one text, e.g. {EXAMPLE}."
    if kind == "blank_text":
        return f"{where} is empty or only whitespace; remove it or give it some words."
    if kind == "too_many":
        return (f"{error['input']} texts in one request, more than the limit of {limits.max_batch}; split them into "
                f"requests of at most {limits.max_batch} (or start the server with a larger --max-batch).")
    if kind == "too_long":
        return (f"{where} has {error['input']:,} characters, more than the limit of {limits.max_chars:,}; shorten it "
                f"(or start the server with a larger --max-chars).")
    return f"{where}: {error.get('msg', 'invalid value')}; send {EXAMPLE}."


def _where(loc: list[Any]) -> str:
    if len(loc) >= 2 and loc[0] == "texts" and isinstance(loc[1], int):
        return f"texts[{loc[1]}]"
    return ".".join(str(part) for part in loc) or "the request"


def _kind(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def input_problems(texts: list[str], limits: Limits) -> list[dict[str, Any]]:
    """The checks JSON typing cannot express, as FastAPI-shaped errors (so one handler words them all)."""
    loc = ("body", "texts")
    if not texts:
        return [{"type": "empty_list", "loc": loc, "msg": "empty list", "input": texts}]
    if len(texts) > limits.max_batch:
        return [{"type": "too_many", "loc": loc, "msg": "too many texts", "input": len(texts)}]
    errors = []
    for i, text in enumerate(texts):
        if not text.strip():
            errors.append({"type": "blank_text", "loc": (*loc, i), "msg": "blank text", "input": text})
        elif len(text) > limits.max_chars:
            errors.append({"type": "too_long", "loc": (*loc, i), "msg": "text too long", "input": len(text)})
    return errors
