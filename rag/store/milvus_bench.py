"""What an in-place update of the shared Milvus index costs at scale (issue 21):
``python -m rag.store.milvus_bench --uri http://127.0.0.1:19530 --chunks 100000``.

It fills a fresh shared index (its own collection prefix) with about ``--chunks`` chunk
rows of synthetic documents (``--doc-chunks`` x 600 characters each), exactly the rows the
writer would store (the real chunker, ids, text hashes, terms) but with random unit
vectors instead of embeddings; loads a replica snapshot of it; then edits one document
(a sentence added in its middle) through the real writer
(:func:`rag.store.milvus_writer.write_locked`: lease, insert, tombstone, commit, purge),
``--updates`` times, and reports medians of:

- ``update_milvus_s``: the Milvus writes of that batch (what the issue bounds),
- ``update_total_s``: the whole batch, reading the committed heads and embedding included
  (only the edited chunks are embedded: the others' vectors are found by text hash),
- ``rows_inserted`` / ``rows_deleted`` and the collection's row count before and after,
- ``replica_pickup_s``: a replica's version poll + incremental reload after the commit,
- ``replica_full_load_s``: a replica's first load of the whole index,
- ``search_ms_p50``: dense search through the replica's store.

The prefix's collections are dropped at the end. Figures go to stdout as JSON. ``rag bench
--store milvus --scale N`` calls :func:`run` and puts the figures next to the FAISS store's
for the same edit (:mod:`rag.bench.updates`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.embed.encoder import Embedder
from rag.ingest.chunking import chunk_document
from rag.ingest.readers import content_id
from rag.store.milvus_shared import _load, state_for
from rag.store.milvus_state import CLEAN, me
from rag.store.milvus_writer import (
    SharedBuildReport,
    _chunk_row,
    _create,
    _settings,
    write_locked,
)
from rag.types import Document

WORDS = np.array(
    [
        *("river", "harbour", "council", "budget", "school", "bridge", "market", "festival"),
        *("library", "station", "ferry", "museum", "archive", "reservoir", "hospital"),
        *("clinic", "farm", "road", "tunnel", "port", "village", "garden"),
    ]
)
CHUNK_CHARS = 600


def synthetic_documents(n_docs: int, doc_chunks: int, seed: int = 0) -> list[Document]:
    """Documents of ``doc_chunks`` pieces of text each (random words, distinct texts)."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n_docs):
        words = " ".join(WORDS[rng.integers(0, len(WORDS), doc_chunks * CHUNK_CHARS // 7)])
        text = f"Report {i}. {words}"[: doc_chunks * CHUNK_CHARS]
        docs.append(Document(content_id(text), f"bench/{i:06d}.txt", f"Report {i}", text))
    return docs


def chunk_rows(config: Config, doc: Document, rng: np.random.Generator, dim: int) -> list[Any]:
    """The rows the writer would store for ``doc`` (the real chunker, ids, text hashes,
    terms), with random unit vectors instead of embeddings: a later edit of ``doc`` reuses
    the vectors of its unchanged chunks exactly as after a real build."""
    rows = []
    for c in chunk_document(doc, config.chunk_size, config.chunk_overlap):
        v = rng.standard_normal(dim).astype(np.float32)
        rows.append(_chunk_row(c, doc, v / np.linalg.norm(v), 1, config))
    return rows


def fill(config: Config, docs: list[Document], dim: int) -> int:
    """Write ``docs`` as version 1 with their real chunk rows (random vectors): the
    starting index, written directly (not what is measured). Returns the chunk count."""
    st = state_for(config)
    rng = np.random.default_rng(1)
    rows: list[dict[str, Any]] = []
    per_doc: dict[str, int] = {}
    for d in docs:
        mine = chunk_rows(config, d, rng, dim)
        per_doc[d.doc_id] = len(mine)
        rows += mine
        if len(rows) >= 20_000:
            st.insert_chunks(rows)
            rows = []
    st.insert_chunks(rows)
    st.insert_documents(docs, per_doc, 1)
    state = st.read_state()
    assert state is not None
    counts = {"documents": len(docs), "chunks": sum(per_doc.values())}
    st.write_state(1, state.settings, "", CLEAN, counts)  # as a finished batch leaves it
    st.flush_all()
    return counts["chunks"]


def documents_for(config: Config, n_chunks: int, doc_chunks: int) -> list[Document]:
    """Synthetic documents of ``doc_chunks`` x 600 characters, as many as make about
    ``n_chunks`` chunks under ``config``'s chunking (measured on the first document)."""
    first = synthetic_documents(1, doc_chunks)[0]
    per = len(chunk_document(first, config.chunk_size, config.chunk_overlap))
    return synthetic_documents(max(1, -(-n_chunks // max(per, 1))), doc_chunks)


def shared_config(
    base: Config, uri: str, prefix: str, n_chunks: int, lexical: str = "milvus"
) -> Config:
    """``base`` pointed at a shared index under ``prefix`` at ``uri`` (Milvus BM25, or
    ``lexical="bm25s"`` for a Milvus older than 2.5, which has no BM25 function)."""
    return base.replace(
        store="milvus",
        milvus_state="shared",
        milvus_uri=uri,
        milvus_collection=prefix,
        lexical=lexical,
        index_type="hnsw" if n_chunks >= 50_000 else "flat",
    )


def run(
    uri: str,
    n_chunks: int,
    doc_chunks: int,
    root: Path,
    *,
    base: Config | None = None,
    embedder: Embedder | None = None,
    updates: int | None = None,
    lexical: str = "milvus",
) -> dict[str, Any]:
    """Fill a fresh shared index of about ``n_chunks`` chunks at ``uri``, measure
    ``updates`` one-document updates (medians) and a replica's pickup of each, then drop
    it. ``base`` supplies the chunking and model (defaults otherwise)."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    base = base or Config.from_env({"root": root}, environ={})
    config = shared_config(base.replace(root=root), uri, prefix, n_chunks, lexical)
    embedder = embedder or Embedder(config.embedding_model)
    docs = documents_for(config, n_chunks, doc_chunks)
    st = state_for(config)
    out: dict[str, Any] = {"documents": len(docs), "uri_kind": "server" if "://" in uri else "lite"}
    try:
        t = time.perf_counter()
        _create(st, config, _settings(config, embedder, n_chunks), n_chunks)
        out["chunks"] = fill(config, docs, embedder.dim)
        out["fill_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        snap = _load(st, config, None)
        out["replica_full_load_s"] = round(time.perf_counter() - t, 2)
        out["rows_before"] = st.count(st.chunks)
        _last[:] = [snap]
        done = [_update_one(st, config, embedder, docs, i) for i in range(updates or UPDATES)]
        out["updates"] = len(done)
        for key in ("update_total_s", "update_milvus_s", "replica_pickup_s"):
            out[key] = round(statistics.median(u[key] for u in done), 3)
        for key in ("rows_inserted", "rows_deleted", "embedded", "reused"):
            out[key] = done[-1][key]
        out["replica_saw_every_update"] = all(u["seen"] for u in done)
        out["rows_after"] = st.count(st.chunks)
        out["search_ms_p50"] = _search_p50(_load(st, config, snap), embedder)
        out["writer"] = me()
    finally:
        st.drop()
    return out


def _search_p50(snap: Any, embedder: Embedder) -> float:
    """Dense search p50 (ms) through a replica's store, 30 queries."""
    queries = embedder.encode_documents([f"bridge report {i}" for i in range(30)])
    times = []
    for q in queries:
        t = time.perf_counter()
        snap.index.store.search(q[None, :], 10)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


UPDATES = 5  # one-document updates measured (medians reported)


def _update_one(
    st: Any, config: Config, embedder: Embedder, docs: list[Document], n: int
) -> dict[str, Any]:
    """Edit document ``n`` (an added sentence) through the real writer, then reload a
    replica snapshot taken just before; ``docs`` is updated in place."""
    snap = _load(st, config, _last[0])
    at = edited_at(docs, n)
    docs[at] = edit(docs[at])
    report = SharedBuildReport()
    holder = f"{me()}:bench"
    t = time.perf_counter()
    write_locked(st, config, embedder, docs, (), report, {}, holder)
    total = time.perf_counter() - t
    t = time.perf_counter()
    moved = st.poll()[1] != snap.version
    after = _load(st, config, snap)
    pickup = time.perf_counter() - t
    _last[:] = [after]
    return {
        "update_total_s": total,
        "update_milvus_s": report.milvus_seconds,
        "replica_pickup_s": pickup,
        "rows_inserted": report.inserted_chunks,
        "rows_deleted": report.deleted_chunks,
        "embedded": report.embedded,
        "reused": report.reused,
        "seen": moved and after.index.document(docs[at].source).doc_id == docs[at].doc_id,
    }


_last: list[Any] = []


def edited_at(docs: list[Document], n: int) -> int:
    """Which document the ``n``-th measured update edits (from the middle on)."""
    return (len(docs) // 2 + n) % len(docs)


def edit(doc: Document) -> Document:
    """``doc`` with a sentence added in its middle: one chunk or two change, the rest of
    its chunks keep their text (an edit of one article, as a newsroom makes)."""
    half = len(doc.text) // 2
    text = f"{doc.text[:half]} The bridge reopened in May. {doc.text[half:]}"
    return Document(content_id(text), doc.source, doc.title, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", required=True, help="a Milvus server, e.g. http://127.0.0.1:19530")
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--doc-chunks", type=int, default=20, help="document length / 600 chars")
    p.add_argument("--updates", type=int, default=UPDATES, help="updates measured (medians)")
    p.add_argument("--root", type=Path, default=Path("."))
    p.add_argument(
        "--lexical",
        choices=("milvus", "bm25s"),
        default="milvus",
        help="bm25s for a Milvus server older than 2.5 (no BM25 function)",
    )
    args = p.parse_args(argv)
    out = run(
        args.uri,
        args.chunks,
        args.doc_chunks,
        args.root,
        updates=args.updates,
        lexical=args.lexical,
    )
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
