"""The loaded index: documents, the chunk table, the vector store and the BM25 index
of one generation (:func:`load_index`); :mod:`rag.store.build` writes them and
:mod:`rag.store.manifest` says which generation is current.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.errors import IndexCorruptError
from rag.store.base import RowMeta, VectorStore
from rag.store.faiss_store import FaissStore
from rag.store.lexical import BM25Index
from rag.store.manifest import MANIFEST, read_manifest
from rag.types import Chunk, Document

CHUNK_DTYPE = np.dtype([("doc", "<i4"), ("ordinal", "<i4"), ("start", "<i8"), ("end", "<i8")])


class ChunkTable:
    """Chunks addressed by row id; :class:`Chunk` objects are made only when asked for."""

    def __init__(self, docs: list[Document], rows: np.ndarray) -> None:
        self.docs = docs
        self.rows = rows

    @classmethod
    def from_chunks(cls, docs: list[Document], chunks: list[Chunk]) -> ChunkTable:
        pos = {d.doc_id: i for i, d in enumerate(docs)}
        rows = np.array(
            [(pos[c.doc_id], int(c.chunk_id.rsplit(":", 1)[1]), c.start, c.end) for c in chunks],
            dtype=CHUNK_DTYPE,
        )
        return cls(docs, rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Chunk:
        doc_row, ordinal, start, end = self.rows[int(i)].tolist()
        doc = self.docs[doc_row]
        return Chunk(
            f"{doc.doc_id}:{ordinal}",
            doc.doc_id,
            doc.source,
            doc.title,
            start,
            end,
            doc.text[start:end],
        )

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))


@dataclass
class Index:
    """A loaded index: documents, chunks, dense vectors and BM25, plus the manifest."""

    docs: list[Document]
    chunks: ChunkTable
    store: VectorStore
    bm25: BM25Index
    manifest: dict[str, Any]
    path: Path
    _by_id: dict[str, Document] = field(default_factory=dict, repr=False)
    _by_source: dict[str, Document] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {d.doc_id: d for d in self.docs}
        self._by_source = {d.source: d for d in self.docs}

    @property
    def skipped(self) -> dict[str, str]:
        """Corpus files the build left out, ``source -> reason`` (unreadable, duplicate)."""
        return dict(self.manifest.get("skipped") or {})

    def document(self, key: str) -> Document:
        """A document by id or by source path."""
        doc = self._by_id.get(key) or self._by_source.get(key)
        if doc is None:
            raise KeyError(f"no indexed document {key!r}")
        return doc


def lexical_text(chunk: Chunk) -> str:
    """The text whose words are indexed for a chunk (title included, as for embeddings)."""
    return f"{chunk.doc_title}\n{chunk.text}"


def embed_text(chunk: Chunk, with_title: bool) -> str:
    """The text that is embedded for a chunk (the title adds document context)."""
    return f"{chunk.doc_title}\n{chunk.text}" if with_title else chunk.text


def file_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def open_store(
    config: Config,
    manifest: dict[str, Any],
    index_dir: Path,
    docs: list[Document],
    rows: np.ndarray,
) -> VectorStore:
    info = manifest.get("store", {"kind": "faiss"})
    if info.get("kind") == "milvus":
        from rag.store.milvus_store import MilvusStore, connect, resolve_uri

        client = connect(resolve_uri(info["uri"], config.root), config.milvus_token)
        return MilvusStore.open(
            client,
            info["collection"],
            expected=len(rows),
            dim=manifest["dimension"],
            ef_search=config.hnsw_ef_search,
            nprobe=config.ivf_nprobe,
        )
    return FaissStore.load(
        index_dir / manifest["files"]["vectors"],
        manifest["index_type"],
        expected=len(rows),
        dim=manifest["dimension"],
        meta=row_meta(docs, rows),
        ef_search=config.hnsw_ef_search,
        nprobe=config.ivf_nprobe,
    )


def row_meta(docs: list[Document], rows: np.ndarray) -> RowMeta:
    """The store metadata of every row, from the chunk table (no Chunk objects made)."""
    of_doc = rows["doc"]
    doc_ids = np.array([d.doc_id for d in docs] or [""], dtype=object)[of_doc]
    sources = np.array([d.source for d in docs] or [""], dtype=object)[of_doc]
    return RowMeta([""] * len(rows), doc_ids, sources, rows["start"], rows["end"])


def load_index(config: Config) -> Index:
    """Load the current generation, checking every file against the manifest."""
    index_dir = config.index_path
    manifest = read_manifest(index_dir)
    try:
        files = manifest["files"]
        counts = manifest["counts"]
        sizes = manifest["sizes"]
    except KeyError as exc:
        raise IndexCorruptError(
            f"{index_dir / MANIFEST} lacks {exc}; run `rag index --rebuild`"
        ) from None
    for key, name in files.items():
        path = index_dir / name
        if not path.exists():
            raise IndexCorruptError(f"{path} is missing; run `rag index --rebuild`")
        if file_size(path) != sizes.get(key):
            raise IndexCorruptError(
                f"{path} is {file_size(path)} bytes, the manifest says {sizes.get(key)} "
                "(truncated or modified); run `rag index --rebuild`"
            )
    docs = _load_documents(index_dir / files["documents"])
    try:
        # Read into memory, not memory-mapped: the table is small (24 bytes a chunk), and
        # a mapped file truncated in place under a running app would kill it (SIGBUS).
        rows = np.load(index_dir / files["chunks"], allow_pickle=False)
        if rows.dtype != CHUNK_DTYPE:
            raise ValueError(f"unexpected dtype {rows.dtype}")
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{index_dir / files['chunks']} is unreadable ({exc}); run `rag index --rebuild`"
        ) from None
    if len(docs) != counts["documents"] or len(rows) != counts["chunks"]:
        raise IndexCorruptError(
            f"{index_dir} counts disagree with its manifest; run `rag index --rebuild`"
        )
    store = open_store(config, manifest, index_dir, docs, rows)
    bm25 = BM25Index.load(index_dir / files["bm25"], expected=len(rows))
    return Index(docs, ChunkTable(docs, rows), store, bm25, manifest, index_dir)


def _load_documents(path: Path) -> list[Document]:
    docs = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                docs.append(
                    Document(
                        d["doc_id"],
                        d["source"],
                        d["title"],
                        d["text"],
                        d["dateline"],
                        d["byline"],
                        tuple(tuple(p) for p in d.get("pages", [])),
                        d.get("date", ""),
                    )
                )
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(
            f"{path} is unreadable ({exc}); run `rag index --rebuild`"
        ) from None
    return docs
