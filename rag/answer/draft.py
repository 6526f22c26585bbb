"""The extractive draft: the cited answer text composed from the sentences picked.

:class:`ExtractiveDraft` is what the extractive backend (:mod:`rag.answer.extractive`)
hands to the gate: the answer text with its [n] markers, the sources they refer to, the
candidates and, for a two-part question, each part's pick. :func:`compose` writes it,
leading a factoid with its value (:func:`rag.answer.factoid.value_first`), shortening a
long sentence to the clauses that answer (:func:`shorten`) and citing each sentence
(:func:`_cite`). Split from the backend, which ranks the candidates, so that module holds
the scoring and this one the wording of what it picked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answer.candidates import Scored
from rag.answer.citations import Source, ends_with_abbreviation
from rag.answer.factoid import _clauses, _factoid_value, _lead, row_value_first, value_first
from rag.answer.lists import cite_each
from rag.answer.qtypes import count_focus, question_type, several_counts
from rag.answer.typed import _number_near, _type_match
from rag.text import tokenize


@dataclass
class ExtractiveDraft:
    """The drafted answer (with [n] markers), what the markers refer to, and confidence.

    ``parts`` holds, for a two-part question, each part and the sentence picked for it
    (gated one by one); for other questions it is empty.
    """

    question: str
    text: str
    sources: list[Source]
    best: Scored | None
    candidates: list[Scored]
    parts: list[tuple[str, Scored]] = field(default_factory=list)
    plain: str = ""  # the same picks without value-first leads: the fallback if those fail


def compose(
    question: str, picks: list[tuple[str, Scored]], scored: list[Scored], parts: object
) -> ExtractiveDraft:
    """A draft citing each picked sentence, shortened for the (part) question it answers."""
    sources = [Source(n, s.chunk, s.score) for n, (_, s) in enumerate(picks, start=1)]
    plain = " ".join(
        cite_each(shorten(s.chunk.text, p), n, _cite) for n, (p, s) in enumerate(picks, start=1)
    )
    text = " ".join(
        _cite(v, n)
        if (v := s.typed >= 1.0 and _value_first(s, p if parts else question))
        else cite_each(shorten(s.chunk.text, p), n, _cite)
        for n, (p, s) in enumerate(picks, start=1)
    )
    best = picks[0][1] if parts and picks else (scored[0] if scored else None)
    return ExtractiveDraft(question, text, sources, best, scored, picks if parts else [], plain)


def _value_first(s: Scored, question: str) -> str | None:
    """The factoid answer of a pick: a table row's value read with its column's name
    (:func:`row_value_first`), any other sentence's by :func:`value_first`."""
    if s.typing and (lead := row_value_first(s.chunk.text, s.typing, question)):
        return lead
    return value_first(s.chunk.text, question)


def _compose_joint(
    question: str, parts: list[tuple[str, Scored]], scored: list[Scored]
) -> ExtractiveDraft:
    """A draft citing one sentence that answers every part: the parts' values first
    ("310 solar panels — The terminal's roof carries 310 solar panels, which ... [1]"),
    then the whole sentence; each part is still gated. When a part that holds its kind of
    value picks none, or two parts pick the same one, no value leads (one would be
    wrong): the sentence alone answers."""
    best = parts[0][1]
    sentence = best.chunk.text
    found = [_factoid_value(sentence, p) for p, s in parts if s.typed >= 1.0]
    plain = _cite(sentence, 1)
    text = plain
    values = [f for f in found if f is not None]
    if values and len(values) == len(found) == len({(v.start, v.end) for v, _ in values}):
        lead = "; ".join(_lead(sentence, v, focus) for v, focus in values)
        text = _cite(f"{lead[:1].upper()}{lead[1:]} — {sentence}", 1)
    sources = [Source(1, best.chunk, best.score)]
    return ExtractiveDraft(question, text, sources, best, scored, parts, plain)


def shorten(sentence: str, question: str, limit: int = 180) -> str:
    """Keep the clauses of a long sentence that answer a factoid question.

    "In 2025, forces ... mechanisms, holding 20 talks, ..., making 113 hotline calls."
    -> "In 2025, forces ... mechanisms … making 113 hotline calls." The opening clauses
    keep who/when; the other kept clauses hold the asked-for value. Open questions
    ("what", "why") keep the whole sentence; so does any sentence where no clause
    stands out.
    """
    qtype = question_type(question)
    if len(sentence) <= limit or qtype not in {"number", "measure", "date"}:
        return sentence
    spans = _clauses(sentence)
    head = 0
    while head < len(spans) - 1 and spans[head][1] < 60:
        head += 1
    focus = count_focus(question)
    qterms = set(tokenize(question))

    def answers(a: int, b: int) -> bool:
        text = sentence[a:b]
        return (
            _type_match(qtype, question, text, focus) >= 1.0
            and (not focus or _number_near(text, focus))
            and bool(qterms & set(tokenize(text)))
        )

    overlap = {
        i: (
            len(set(focus) & set(tokenize(sentence[a:b]))),
            len(qterms & set(tokenize(sentence[a:b]))),
        )
        for i, (a, b) in enumerate(spans)
        if answers(a, b)
    }
    if not overlap:
        return sentence
    best = max(overlap.values())
    multi = several_counts(question)  # "how many talks and meetings": keep each count
    keep = [i for i, n in overlap.items() if n == best or (multi and n[0] > 0)]
    chosen = sorted({*range(head + 1), *keep})
    pieces: list[list[int]] = []
    for i in chosen:
        a, b = spans[i]
        if pieces and i == pieces[-1][2] + 1:
            pieces[-1][1], pieces[-1][2] = b, i
        else:
            pieces.append([a, b, i])
    out = " … ".join(sentence[a:b].rstrip(" ,;.") for a, b, _ in pieces)
    return out + "."


def _cite(sentence: str, n: int) -> str:
    """``sentence`` with the marker ``[n]`` before its end mark ("… calls [1]."), after
    a closing abbreviation ("… at 6.40 a.m. [1]")."""
    s = sentence.rstrip().rstrip("。！？")  # a Chinese quote: the marker and "." end it instead
    if ends_with_abbreviation(s):
        return f"{s} [{n}]"
    if s and s[-1] in ".!?":
        return f"{s[:-1]} [{n}]{s[-1]}"
    return f"{s} [{n}]."
