"""Which neighbouring sentences a picked sentence is quoted with.

A sentence matched to the question does not always stand alone: it may only announce a
list ("The HX-40 has four operating modes."), leave the reason of a why-question to the
next sentence, name its subject by a pronoun ("Grey seals use it as a pupping site"), or
leave the detail to the next one ("Check the system pressure ... It should be between 1.0
and 2.0 bar."). Each such pick is quoted as one span with the sentences it needs (offsets
into its document, so the citation still highlights exact text). English function words
and layout only; nothing here names a word of one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from rag.answer.candidates import Scored
from rag.answer.layout import is_heading_line, is_label
from rag.answer.lists import announced_count, asks_for_list, with_following, with_items
from rag.answer.qtypes import STRICT_TYPES, VALUE_TYPES, question_type
from rag.answer.reasons import asks_why, gives_reason
from rag.ingest.chunking import answer_spans
from rag.text import is_table_row, table_rows
from rag.types import Chunk


def with_neighbours(
    question: str, picks: list[tuple[str, Scored]], doc_texts: dict[str, str]
) -> list[tuple[str, Scored]]:
    """The picks, each quoted with the sentences it needs (:func:`_widened`); a pick that
    a longer passage already holds is dropped. A value question keeps its sentence: the
    count is what "how many" asks."""
    if not picks or question_type(question) in VALUE_TYPES:
        return picks
    out: list[tuple[str, Scored]] = []
    for q, s in picks:
        if any(
            o.chunk.doc_id == s.chunk.doc_id and o.chunk.start <= s.chunk.start < o.chunk.end
            for _, o in out
        ):
            continue  # a longer passage already quotes it
        out.append((q, _widened(question, q, s, doc_texts[s.chunk.doc_id], out)))
    return out


def _widened(
    question: str, part: str, s: Scored, doc_text: str, taken: list[tuple[str, Scored]]
) -> Scored:
    """A pick quoted with the neighbours it needs: the items after a sentence that only
    announces a list the question asks for ("The HX-40 has four operating modes.":
    :mod:`rag.answer.lists`), and the items after one that ends in a colon, whatever the
    question; for a why-question the next sentence when only it gives the reason
    (:func:`with_reason`); with no value leading it, the next
    sentence when it goes on about it ("It should be between 1.0 and 2.0 bar") and the
    one before when it names its subject by a pronoun, unless an earlier pick quotes it."""
    count = announced_count(s.chunk.text, question)
    if count:
        s = replace(s, chunk=with_following(doc_text, s.chunk, count))
    elif asks_for_list(question) and is_table_row(s.chunk.text):
        s = replace(s, chunk=with_table_rows(doc_text, s.chunk))
    elif asks_why(question):
        s = replace(s, chunk=with_reason(doc_text, s.chunk))
    # a pick that ends in a colon introduces what follows: quoted alone, it says nothing
    # ("Mandatory training:", "Three treatments, each with 4 replicates at each site:")
    s = replace(s, chunk=with_items(doc_text, s.chunk))
    if s.typed >= 1.0:
        return s
    if question_type(part) not in STRICT_TYPES:
        s = replace(s, chunk=with_continuation(doc_text, s.chunk))
    if not any(
        o.chunk.doc_id == s.chunk.doc_id and o.chunk.start < s.chunk.start <= o.chunk.end + 2
        for _, o in taken
    ):
        s = replace(s, chunk=with_antecedent(doc_text, s.chunk))
    return s


ANAPHOR = re.compile(
    r"^\W*(?:\w+\s+){0,3}?(?:this|these|it|they)\b(?!\s+(?:is|was)\s+(?:the|a)\b)", re.I
)
"""A sentence that names its subject by a pronoun in its first words ("In our measurements
this cut processor load ...", "It was opened in 1911."): its neighbours name it."""

MAX_CHARS = 480
"""The longest passage (a sentence with its neighbour) quoted as one span."""


def with_antecedent(doc_text: str, sentence: Chunk) -> Chunk:
    """The sentence with the one before it in its paragraph when it names its subject by a
    pronoun ("Grey seals use it as a pupping site" after "The largest cave, Uamh nan Ron,
    runs 120 metres into the cliff."): quoted alone, what "it" is cannot be read. One
    quotable span (offsets into the document); the sentence itself otherwise."""
    if not ANAPHOR.search(sentence.text):
        return sentence
    para_start = doc_text.rfind("\n\n", 0, sentence.start)
    para_start = 0 if para_start < 0 else para_start + 2
    before = answer_spans(doc_text, para_start, sentence.start)[-1:]
    if not before or sentence.end - before[0][0] > MAX_CHARS:
        return sentence
    a = before[0][0]
    prior = doc_text[a : sentence.start].strip()
    if is_heading_line(prior.split("\n")[0].strip()) or is_table_row(prior) or is_label(prior):
        return sentence  # a heading or a table row: no antecedent
    return replace(sentence, start=a, text=doc_text[a : sentence.end])


CONTINUATION = re.compile(
    r"^\W*(?:it|this|they|these|that)\s+(?:should|must|is|are|was|were|will|would|can|may|"
    r"takes?|needs?|means?)\b",
    re.I,
)
"""A sentence that goes on about the one before it ("Check the system pressure on the
start screen." -> "It should be between 1.0 and 2.0 bar.")."""


def with_continuation(doc_text: str, sentence: Chunk) -> Chunk:
    """The sentence with the next one of its paragraph when that one goes on about it
    (:data:`CONTINUATION`), as one quotable span; the sentence itself otherwise. An
    instruction or a statement whose detail follows ("It should be ...") is quoted with
    the detail."""
    return _with_next(doc_text, sentence, lambda nxt: CONTINUATION.match(nxt) is not None)


def with_reason(doc_text: str, sentence: Chunk) -> Chunk:
    """The sentence, with the next one of its paragraph when it gives no reason and that
    one does ("If the heat pump must be switched off in winter ..., drain the outdoor
    unit." + "Otherwise the water in the unit can freeze ..."), as one quotable span
    (offsets into the document); the sentence itself otherwise."""
    if gives_reason(sentence.text):
        return sentence
    return _with_next(doc_text, sentence, gives_reason)


def _with_next(doc_text: str, sentence: Chunk, joins: Callable[[str], bool]) -> Chunk:
    """The sentence with the next sentence of its paragraph as one span, when that one
    ``joins`` it and both fit in :data:`MAX_CHARS`; the sentence itself otherwise."""
    para_end = doc_text.find("\n\n", sentence.end)
    para_end = len(doc_text) if para_end < 0 else para_end
    following = answer_spans(doc_text, sentence.end, para_end)[:1]
    if not following:
        return sentence
    a, b = following[0]
    if b - sentence.start > MAX_CHARS or not joins(doc_text[a:b]):
        return sentence
    return replace(sentence, end=b, text=doc_text[sentence.start : b])


MAX_TABLE_ROWS = 8
"""The most rows of a table quoted as the answer to a list question."""


def with_table_rows(doc_text: str, row: Chunk) -> Chunk:
    """A table row with the other body rows of its table, when a list question picked it
    ("Which areas were hit by the outage?": one row per area): the list is the table's
    rows, up to :data:`MAX_TABLE_ROWS`, as one quotable span; the row itself for a longer
    table (a list of many rows is no short answer)."""
    lines = table_rows(doc_text, row.start)
    if not lines or len(lines) > MAX_TABLE_ROWS or not any(a <= row.start < b for a, b in lines):
        return row
    a, b = lines[0][0], lines[-1][1]
    return replace(row, start=a, end=b, text=doc_text[a:b])
