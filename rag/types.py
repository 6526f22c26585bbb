"""Small typed records passed between the stages of the flow.

articles -> :class:`Document` -> :class:`Chunk` -> retrieval :class:`Hit` ->
:class:`Answer` with :class:`Citation` s. Every record that points into a document
carries ``start``/``end`` character offsets into the NFC-normalised document text,
so ``document.text[start:end]`` reproduces the quoted text exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """One source file, normalised to NFC, with metadata derived from its text."""

    doc_id: str  # content hash (sha256 of the normalised text, 16 hex chars)
    source: str  # path relative to the project root, e.g. "seeds/000_x.txt"
    title: str
    text: str
    dateline: str = ""  # e.g. "LẠNG SƠN"
    byline: str = ""  # e.g. "VNA/VNS"
    pages: tuple[tuple[int, int], ...] = ()  # (page number, start offset), for paged formats
    date: str = ""  # publication date, ISO (YYYY-MM-DD or YYYY-MM); "" = unknown (rag.ingest.dates)

    @property
    def length(self) -> int:
        return len(self.text)

    def meta(self) -> dict[str, Any]:
        """Metadata without the text, as stored in the index manifest."""
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "dateline": self.dateline,
            "byline": self.byline,
            "length": self.length,
            "pages": [list(p) for p in self.pages],
            "date": self.date,
        }


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document: ``doc.text[start:end] == text`` always holds."""

    chunk_id: str  # "<doc_id>:<ordinal>"
    doc_id: str
    source: str
    doc_title: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Hit:
    """A retrieved chunk with its dense, lexical and fused scores."""

    rank: int
    chunk: Chunk
    dense_score: float
    bm25_score: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": self.rank,
            "chunk_id": c.chunk_id,
            "source": c.source,
            "doc_title": c.doc_title,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "dense_score": round(float(self.dense_score), 6),
            "bm25_score": round(float(self.bm25_score), 6),
            "score": round(float(self.score), 6),
        }


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered citation: the minimal span of a document that supports a claim."""

    n: int
    source: str
    doc_title: str
    start: int
    end: int
    quote: str  # == document text[start:end]
    score: float
    chunk_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.source,
            "doc_title": self.doc_title,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "score": round(float(self.score), 6),
        }


@dataclass(slots=True)
class Answer:
    """The answer contract shared by the CLI, the app and the evaluation harness."""

    question: str
    standalone_question: str
    answer: str
    abstained: bool
    backend: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Hit] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. "fell back to extractive"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "abstained": self.abstained,
            "backend": self.backend,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [h.to_dict() for h in self.passages],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out
