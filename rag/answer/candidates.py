"""The records the extractive answerer passes between its steps: a candidate sentence
of a retrieved passage, and the same sentence scored (its own module so that the
two-part and disagreement steps can take them without importing the answerer).

It also holds what the answerer knows about a passage's sentences before any question
is asked: which sentences of a chunk can be quoted (:func:`chunk_sentences`) and each
sentence's terms (:func:`sentence_terms`). The same passages answer many questions, and
this work was redone for every question and for every part of one (the answer, its
two-part rankings, the many-article checks' wider search). The caches are keyed by the
document's whole text, so an edited document never gets the old one's sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.answer.layout import FIELD_LINE as _FIELD_LINE
from rag.answer.layout import content_span, is_label, list_lead
from rag.ingest.chunking import answer_spans
from rag.ingest.dates import front_matter
from rag.text import (
    heads_a_table,
    is_table_header,
    is_table_row,
    names,
    table_header,
    tokenize,
)
from rag.types import Chunk


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate sentence with its score parts."""

    chunk: Chunk  # the sentence as a chunk (offsets into its document)
    score: float
    semantic: float
    lexical: float
    typed: float
    rank: int
    context: frozenset[str] = frozenset()  # names it refers back to, its heading's words
    typing: str = ""  # a table row's cells with their column names (Candidate.typing)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of a retrieved passage; ``context`` holds names it refers back to."""

    chunk: Chunk
    rank: int
    context: frozenset[str] = frozenset()
    typing: str = ""  # the text its values are typed on, when not its own: a table row's
    # cells each followed by its column's name ("up to 150 Protected agents")
    lead_in: str = ""  # the sentence before it in its paragraph ("" for a paragraph's first)

    @property
    def typed_text(self) -> str:
        """The text the answerer reads this sentence's values from."""
        return self.typing or self.chunk.text


_PRONOUN_START = re.compile(r"^(he|she|they|it|its|his|her|their|this|these|both)\b", re.I)

_THERE = re.compile(
    r"\b(?:there|then)\b(?! (?:is|are|was|were|will|has|have|had|would|may|might|must|can|could|should)\b)",
    re.I,
)
""""there" or "then" pointing back to a place or time ("9 of the 24 plots there"), not the
"there is" of existence."""

SentenceSlot = tuple[int, Chunk | None, frozenset[str]]
"""One quotable span of a chunk: its start as :func:`answer_spans` gives it (what two
overlapping chunks of one document are de-duplicated on), the sentence as a chunk (None
for a heading, label or title: skipped, but still counted as seen) and its context."""


def _context(text: str, start: int, sentence: str) -> frozenset[str]:
    """Names from the sentence before, when this one starts with "He", "They", ... or
    points back to its place or time ("there", "then")."""
    if not (_PRONOUN_START.match(sentence) or _THERE.search(sentence)):
        return frozenset()
    before = answer_spans(text, max(0, start - 800), start)
    if not before:
        return frozenset()
    a, b = before[-1]
    return frozenset(names(text[a:b]))


@lru_cache(maxsize=8192)
def chunk_sentences(
    text: str, doc_id: str, source: str, title: str, start: int, end: int
) -> tuple[SentenceSlot, ...]:
    """The quotable sentences of the chunk ``text[start:end]`` of a document, without
    headings, section labels, datelines, Markdown front matter or the document title
    (they name a topic or file the document, they do not answer); a heading's words
    become the context of the sentence under it. Cached per document text and chunk."""
    metadata_end = front_matter(text)[1]  # 0 without front matter
    out: list[SentenceSlot] = []
    spans = answer_spans(text, max(start, metadata_end), max(end, metadata_end))
    fields = {line for a, b in spans for line in _field_lines(text, a, b)}
    asked = ""
    for a0, b0 in sorted(fields):
        x, y, labels = content_span(text[a0:b0])
        a, b = a0 + x, a0 + y
        header = is_table_row(text[a:b]) and heads_a_table(text, b)  # a header alone
        field = (a0, b0) not in spans and _FIELD_LINE.match(text, a0) is not None
        if (is_label(text[a:b], title) and not field) or is_table_header(text[a0:b0]) or header:
            out.append((a0, None, frozenset()))
            continue
        if _ASKS.search(text[a:b]):  # an FAQ's question: the context of its answer
            out.append((a0, None, frozenset()))
            asked = text[a:b]
            continue
        sentence = Chunk(f"{doc_id}@{a}", doc_id, source, title, a, b, text[a:b])
        # a table row's header names its cells ("Department | 2026/27 budget")
        labels = f"{labels} {table_header(text, a)}" if is_table_row(sentence.text) else labels
        labels = f"{labels} {list_lead(text, a0)}"  # "Who approves a claim:" over its items
        if asked:  # the answer's first sentence under an FAQ's question
            labels, asked = f"{labels} {asked}", ""
        if header_field(text, a0):
            labels = f"{labels} {title}"  # "Approved on: 14/01/2026" files the document
        context = _context(text, a, sentence.text) | frozenset(tokenize(labels))
        out.append((a0, sentence, context))
    return tuple(out)


def _field_lines(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """A span of several lines, each a field or a label ("Severity: High, CVSS 3.1 base
    score 8.1" / "Fixed versions: 4.2.2 and 4.1.6"), as one span per line: a block of
    fields has no full stops, so the sentence splitter joins it (with the paragraph after
    it), and each field answers on its own. Any other span stays whole."""
    if "\n" not in text[a:b].strip():
        return [(a, b)]
    lines, pos = [], a
    for line in text[a:b].split("\n"):
        if line.strip():
            lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    field = [is_label(text[x:y]) or bool(_FIELD_LINE.match(text, x)) for x, y in lines]
    block = next((i for i, f in enumerate(field) if not f), len(lines))
    if sum(not is_label(text[x:y]) for x, y in lines[:block]) < 2:
        return [(a, b)]
    rest = [(lines[block][0], b)] if block < len(lines) else []
    gap = text[lines[block - 1][1] : lines[block][0]] if rest else ""
    if rest and "\n\n" not in gap:
        return [(a, b)]  # the block runs on into a sentence: no block of its own
    return lines[:block] + rest


def header_field(text: str, start: int) -> bool:
    """Is the line at ``start`` a "Key: value" field of the document's header block
    ("Issued by: ...", "Version: 7.2")? It is about the document: read with its title."""
    return bool(_FIELD_LINE.match(text, start)) and start < _header_end(text)


@lru_cache(maxsize=1024)
def _header_end(text: str) -> int:
    """Where a document's header block ends (after any front matter): the title, headings
    and "Key: value" lines ("Version: 7.2", "Approved on: 14/01/2026") before its first
    other line. Such a field is about the document itself, so the title is its context."""
    start = pos = front_matter(text)[1]
    for line in text[start : start + 3000].split("\n"):
        s = line.strip()
        if s and not (s.startswith("#") or is_label(s) or _FIELD_LINE.match(line)):
            return pos
        pos += len(line) + 1
    return pos


_ASKS = re.compile(r"\?[*_\s]*$")
"""A span that ends in a question mark (markup aside) asks, it does not answer: an FAQ's
question ("**Why does my mower keep returning to the station at midday?**")."""


@lru_cache(maxsize=32768)
def sentence_terms(text: str) -> frozenset[str]:
    """``set(tokenize(text))``, cached: a sentence's terms are matched against every
    question whose passages hold it."""
    return frozenset(tokenize(text))
