"""Entity tag schemes: read IOB1, IOB2 (BIO) and BIOES (also spelled IOBES; BILOU's L-/U- read as E-/S-) into
entity spans, and write spans back as IOB2, the one scheme training uses.

Converting through spans rather than rewriting prefixes keeps every scheme's rule in one place (`spans_of`), and
an invalid sequence is caught where its rule breaks, with the position of the offending tag. seqeval checks
schemes (`seqeval.scheme`) but converts none, hence this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ftlab.errors import UserError

SCHEMES = ("auto", "iob1", "iob2", "bioes")
"""`--tag-scheme` values; "auto" picks the scheme the tags are written in (see `detect_scheme`)."""
OUTSIDE = "O"
_ALIASES = {"bio": "iob2", "iobes": "bioes", "bilou": "bioes"}
_BILOU = {"L": "E", "U": "S"}


@dataclass(frozen=True)
class Span:
    type: str
    start: int
    """Index of the entity's first token."""
    end: int
    """Index one past its last token."""


class TagError(UserError):
    """A tag sequence that breaks its scheme, at the tag with index `position` of its sentence."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position
        self.sentence: int | None = None
        """Index of the sentence, where several were read."""


def normalise_scheme(scheme: str) -> str:
    name = _ALIASES.get(str(scheme).lower(), str(scheme).lower())
    if name not in SCHEMES:
        raise UserError(f"Unknown tag scheme '{scheme}': choose one of {', '.join(SCHEMES)} (bio means iob2, iobes "
                        "and bilou mean bioes). Example: --tag-scheme auto.")
    return name


def split_tag(tag: str, position: int) -> tuple[str, str]:
    """("B", "person") from "B-person" (BILOU's L/U as E/S); ("O", "") for the outside tag."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, dash, kind = tag.partition("-")
    prefix = _BILOU.get(prefix, prefix)
    if not dash or not kind or prefix not in ("B", "I", "E", "S"):
        raise TagError(f"tag '{tag}' is in no known tag scheme: every tag must be O or a prefix B-, I-, E-, S- (or "
                       "BILOU's L-, U-) followed by the entity type, e.g. B-person", position)
    return prefix, kind


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """"bioes" if any tag has an E- or S- (or L-/U-) prefix; "iob1" if an entity ever opens with I- (after O, at the
    start, or after another type); else "iob2"."""
    iob1 = False
    for index, tags in enumerate(sentences):
        previous = (OUTSIDE, "")
        for position, tag in enumerate(tags):
            try:
                prefix, kind = split_tag(tag, position)
            except TagError as exc:
                exc.sentence = index
                raise
            if prefix in ("E", "S"):
                return "bioes"
            if prefix == "I" and (previous[0] == OUTSIDE or previous[1] != kind):
                iob1 = True
            previous = (prefix, kind)
    return "iob1" if iob1 else "iob2"


def spans_of(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities of one sentence's tags in `scheme` ("iob1", "iob2" or "bioes"); `TagError` where it breaks."""
    spans: list[Span] = []
    open_kind, open_start = None, 0

    def close(end: int) -> None:
        nonlocal open_kind
        if open_kind is not None:
            spans.append(Span(open_kind, open_start, end))
        open_kind = None

    for position, tag in enumerate(tags):
        prefix, kind = split_tag(tag, position)
        continues = open_kind == kind
        if prefix == OUTSIDE:
            if scheme == "bioes" and open_kind is not None:
                raise TagError(f"'{tags[position - 1]}' is followed by O: in BIOES an entity ends with E-", position)
            close(position)
        elif prefix == "B" or (prefix == "I" and not continues):
            if prefix == "I" and scheme != "iob1":
                raise TagError(f"'{tag}' opens an entity: in {scheme.upper()} an entity starts with B-{kind} "
                               "(or the file is IOB1: pass --tag-scheme iob1)", position)
            if scheme == "bioes" and open_kind is not None:
                raise TagError(f"'{tag}' follows an entity that never ended with E-", position)
            close(position)
            open_kind, open_start = kind, position
        elif prefix == "I":
            pass  # continues the open entity
        elif scheme != "bioes":
            raise TagError(f"'{tag}' is a BIOES tag in a file read as {scheme.upper()}: pass --tag-scheme bioes",
                           position)
        elif prefix == "S":
            if open_kind is not None:
                raise TagError(f"'{tag}' follows an entity that never ended with E-", position)
            spans.append(Span(kind, position, position + 1))
        elif continues:  # E- closing the open entity
            close(position + 1)
        else:
            raise TagError(f"'{tag}' ends an entity that never began with B-{kind}", position)
    if scheme == "bioes" and open_kind is not None:
        raise TagError(f"the sentence ends inside an entity ('{tags[-1]}'): in BIOES an entity ends with E-",
                       len(tags) - 1)
    close(len(tags))
    return spans


def to_iob2(spans: Sequence[Span], length: int) -> list[str]:
    tags = [OUTSIDE] * length
    for span in spans:
        tags[span.start] = f"B-{span.type}"
        for position in range(span.start + 1, span.end):
            tags[position] = f"I-{span.type}"
    return tags


def convert_to_iob2(sentences: Sequence[Sequence[str]], scheme: str = "auto") -> tuple[list[list[str]], str]:
    """(every sentence's tags in IOB2, the scheme they were read in). A `TagError` carries the index of the sentence
    (`sentence`) and of the tag in it (`position`), for the caller to turn into a line number."""
    scheme = normalise_scheme(scheme)
    if scheme == "auto":
        scheme = detect_scheme(sentences)
    converted = []
    for index, tags in enumerate(sentences):
        try:
            converted.append(to_iob2(spans_of(tags, scheme), len(tags)))
        except TagError as exc:
            exc.sentence = index
            raise
    return converted, scheme
