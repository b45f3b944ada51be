"""Why did an NER run tag that entity? Integrated gradients over the sentence's words of the entity's tag
probabilities.

The explained number is the mean, over the entity's words, of the probability the model gives each word's
predicted tag at the word's first sub-token (where the model was trained to tag it): words that push it up made the
model see this entity, of this type. The sentence is tokenized word by word, as the run was trained and as
`ftlab predict` splits it (`ftlab.explain.words`), and the path integral is `ftlab.explain.ig`'s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ftlab.errors import UserError
from ftlab.explain.ig import encode_words, integrated_gradients
from ftlab.explain.words import split_words


@dataclass
class EntityExplanation:
    run_id: str
    text: str
    words: list[str]
    entity: dict[str, Any]
    """The explained entity as `ftlab predict` gives it: text, type, start, end (character offsets), score."""
    entities: list[dict[str, Any]]
    """Every entity found in the text, in order; `entity` is one of them."""
    attributions: list[float]
    """Per word: its share of the entity's tag probability (positive: made the model see the entity)."""
    delta: float
    """IG's convergence delta (completeness error, in probability units)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain_entity(run_id: str, text: str, entity: int = 0, *, ig_steps: int = 50) -> EntityExplanation:
    """Integrated gradients of the `entity`-th entity (0: the first) that NER run `run_id` finds in `text`."""
    from ftlab.evaluate import load_trained

    if not isinstance(text, str) or not text.strip():
        raise UserError("Nothing to explain: give a non-empty text, e.g. --text 'Justin Bieber flew to Paris'.")
    model, tokenizer, config, labels, task = load_trained(run_id)
    if task.name != "ner":
        raise UserError(f"Run '{run_id}' is a {task.name} run; an entity's explanation needs an NER run. For a "
                        f"classification run use `ftlab explain {run_id} --text ...`.")
    found = task.predict(model, tokenizer, [text], labels, config)[0]["entities"]
    if not found:
        raise UserError(f"Run '{run_id}' finds no entity in this text, so there is none to explain. Try a text "
                        "with names of people, places or companies.")
    if isinstance(entity, bool) or not isinstance(entity, int) or not 0 <= entity < len(found):
        names = ", ".join(f"{i}: {e['text']} ({e['type']})" for i, e in enumerate(found))
        raise UserError(f"No entity {entity!r} in this text: the run finds {len(found)} ({names}). "
                        "Choose one by its number, e.g. --entity 0.")
    chosen = found[entity]
    words = split_words(text)
    inside = [i for i, (start, end) in enumerate(words.spans) if start >= chosen["start"] and end <= chosen["end"]]
    encoded, word_of_token = encode_words(tokenizer, words, config.max_length, split_into_words=True)
    first_token = {word: position for position, word in reversed(list(enumerate(word_of_token))) if word is not None}
    tag_of = {word: labels.index(("B-" if k == 0 else "I-") + chosen["type"]) for k, word in enumerate(inside)}
    positions = torch.tensor([first_token[word] for word in inside])
    tags = torch.tensor([tag_of[word] for word in inside])

    def entity_probability(logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits[:, positions], dim=-1)[:, torch.arange(len(inside)), tags].mean(dim=-1)

    result = integrated_gradients(model, encoded, word_of_token, len(words), entity_probability,
                                  pad_token_id=tokenizer.pad_token_id, n_steps=ig_steps)
    return EntityExplanation(run_id, text, list(words.words), chosen, found, result.attributions.tolist(),
                             result.delta)
