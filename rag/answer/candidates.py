"""The records the extractive answerer passes between its steps: a candidate sentence
of a retrieved passage, and the same sentence scored (its own module so that the
two-part and disagreement steps can take them without importing the answerer)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of a retrieved passage; ``context`` holds names it refers back to."""

    chunk: Chunk
    rank: int
    context: frozenset[str] = frozenset()
