"""Split documents into sentence-aware, overlapping chunks with exact offsets.

A chunk is a run of whole sentences up to ``chunk_size`` characters; consecutive
chunks share ``chunk_overlap`` sentences so a fact split across a boundary is still
found whole. Every chunk satisfies ``doc.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text import is_table_row, sentence_spans
from rag.types import Chunk, Document


def split_long(text: str, span: tuple[int, int], limit: int) -> list[tuple[int, int]]:
    """Cut a span longer than ``limit`` at whitespace (or hard, if there is none)."""
    a, b = span
    pieces: list[tuple[int, int]] = []
    while b - a > limit:
        cut = text.rfind(" ", a + limit // 2, a + limit)
        cut = cut if cut > a else a + limit
        pieces.append((a, cut))
        a = cut
        while a < b and text[a].isspace():
            a += 1
    if b > a:
        pieces.append((a, b))
    return pieces


def merge_fragments(
    spans: list[tuple[int, int]], min_chars: int = 20, text: str = "", paragraphs: bool = False
) -> list[tuple[int, int]]:
    """Attach very short pieces (a byline such as "— VNA/VNS", a table's rule row) to the
    sentence before; a short table row of ``text`` stays a row of its own, and with
    ``paragraphs`` so does a piece that opens a paragraph ("Mandatory training:" before
    its list), unless it is a byline."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        glue = out and b - a < min_chars and not (text and is_table_row(text[a:b]))
        if glue and paragraphs and "\n\n" in text[out[-1][1] : a]:
            glue = bool(_BYLINE_TAIL.match(text, a, b))  # it opens a paragraph: a byline only
        if glue:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


_BYLINE_TAIL = re.compile(r"\s*[—–]\s*[A-Z][A-Z/&.\- ]{1,30}$")  # "— VNA/VNS"


def answer_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` that can be quoted: fragments merged, bylines cut."""
    return list(_answer_spans(text, start, len(text) if end is None else end))


@lru_cache(maxsize=8192)
def _answer_spans(text: str, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """:func:`answer_spans`, cached (the same passages answer many questions)."""
    out = []
    for a, b in merge_fragments(sentence_spans(text, start, end), text=text, paragraphs=True):
        m = _BYLINE_TAIL.search(text, a, b)
        if m and m.start() > a + 20:
            b = m.start()
        out.append((a, b))
    return tuple(out)


def chunk_spans(text: str, chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) offsets of the chunks of ``text``."""
    sents: list[tuple[int, int]] = []
    for span in merge_fragments(sentence_spans(text), text=text):
        sents.extend(split_long(text, span, max(2 * chunk_size, 1)))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(sents):
        j = i + 1
        while j < len(sents) and sents[j][1] - sents[i][0] <= chunk_size:
            j += 1
        spans.append((sents[i][0], sents[j - 1][1]))
        if j >= len(sents):
            break
        # Start the next chunk `overlap` sentences back, but always move forward.
        i = max(j - overlap, i + 1)
    return spans


def chunk_document(doc: Document, chunk_size: int = 600, overlap: int = 1) -> list[Chunk]:
    """The chunks of one document, in reading order."""
    return [
        Chunk(
            chunk_id=f"{doc.doc_id}:{n}",
            doc_id=doc.doc_id,
            source=doc.source,
            doc_title=doc.title,
            start=a,
            end=b,
            text=doc.text[a:b],
        )
        for n, (a, b) in enumerate(chunk_spans(doc.text, chunk_size, overlap))
    ]
