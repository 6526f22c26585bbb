"""The vector-store interface: :class:`VectorStore` and the per-row metadata it keeps
(:class:`RowMeta`). Implementations: :class:`rag.store.faiss_store.FaissStore` and
:class:`rag.store.milvus_store.MilvusStore`; nothing above this interface imports faiss
or pymilvus.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.types import Chunk


@dataclass(frozen=True)
class RowMeta:
    """What a store keeps next to each vector: the chunk it embeds and where it came from.

    Columns, one entry per row, so a million rows cost a few arrays rather than a million
    objects. ``doc_id`` lets a store delete a document; ``source`` lets it filter a search
    to some files; ``chunk_id``, ``start`` and ``end`` let a remote store be checked
    against the chunk table (citations depend on the offsets).
    """

    chunk_id: Sequence[str]
    doc_id: Sequence[str]
    source: Sequence[str]
    start: Sequence[int]
    end: Sequence[int]
    text: Sequence[str] | None = None  # for a store that also indexes words (Milvus BM25)

    def __post_init__(self) -> None:
        n = len(self.chunk_id)
        cols = (self.doc_id, self.source, self.start, self.end, self.text or [""] * n)
        if any(len(col) != n for col in cols):
            raise ValueError("RowMeta columns must have the same length")

    def __len__(self) -> int:
        return len(self.chunk_id)

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], texts: Sequence[str] | None = None) -> RowMeta:
        return cls(
            [c.chunk_id for c in chunks],
            [c.doc_id for c in chunks],
            [c.source for c in chunks],
            [c.start for c in chunks],
            [c.end for c in chunks],
            texts,
        )

    @classmethod
    def empty(cls, n: int) -> RowMeta:
        """Placeholder metadata for vectors that belong to no document (benchmarks)."""
        blank = [""] * n
        return cls(blank, blank, blank, [0] * n, [0] * n)

    def slice(self, a: int, b: int) -> RowMeta:
        text = None if self.text is None else self.text[a:b]
        return RowMeta(
            self.chunk_id[a:b],
            self.doc_id[a:b],
            self.source[a:b],
            self.start[a:b],
            self.end[a:b],
            text,
        )


class VectorStore(Protocol):
    """Dense vectors addressed by row id (the chunk's row in the chunk table), searched by
    inner product. Both implementations (:class:`FaissStore` here,
    :class:`rag.store.milvus_store.MilvusStore`) pass the same contract tests; nothing above
    this interface imports faiss or pymilvus."""

    @property
    def dim(self) -> int: ...

    @property
    def kind(self) -> str:
        """The index kind, e.g. ``flat``, ``hnsw``, ``ivf`` or ``milvus``."""
        ...

    def __len__(self) -> int:
        """The number of stored (live) vectors."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray, meta: RowMeta) -> None:
        """Store ``vectors`` (float32, L2-normalised) under row ``ids``, with their metadata."""
        ...

    def delete_document(self, doc_id: str) -> int:
        """Remove every row of one document; returns how many rows went."""
        ...

    def search(
        self, queries: np.ndarray, k: int, *, sources: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row, optionally only over rows whose source is
        in ``sources``; missing results have id -1."""
        ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors for ``ids`` (scores of lexical-only hits, vector re-use)."""
        ...

    def persist(self, path: Path) -> None:
        """Make the stored rows durable (FAISS writes ``path``; Milvus flushes)."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


__all__ = ["RowMeta", "VectorStore"]
