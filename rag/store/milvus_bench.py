"""What an in-place update of the shared Milvus index costs at scale (issue 21):
``python -m rag.store.milvus_bench --uri http://127.0.0.1:19530 --chunks 100000``.

It fills a fresh shared index (its own collection prefix) with ``--chunks`` synthetic
chunk rows (random unit vectors, documents of ``--doc-chunks`` chunks each), loads a
replica snapshot of it, then replaces one document through the real writer
(:func:`rag.store.milvus_writer._write_batch`: lease, insert, tombstone, commit, purge)
and reports:

- ``update_milvus_s``: the Milvus writes of that batch (what the issue bounds),
- ``update_total_s``: the whole batch, reading the committed heads and embedding included,
- ``rows_inserted`` / ``rows_deleted`` and the collection's row count before and after,
- ``replica_pickup_s``: a replica's version poll + incremental reload after the commit,
- ``replica_full_load_s``: a replica's first load of the whole index,
- ``search_ms_p50``: dense search through the replica's store.

The prefix's collections are dropped at the end. Figures go to stdout as JSON.
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
from rag.ingest.readers import content_id
from rag.store.milvus_shared import _load, state_for
from rag.store.milvus_state import chunk_key, me
from rag.store.milvus_writer import SharedBuildReport, _create, _settings, _write_batch
from rag.text import terms
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


def fill(config: Config, docs: list[Document], dim: int, doc_chunks: int) -> None:
    """Write ``docs`` as version 1 with synthetic chunk rows (random vectors): the
    starting index, written directly (not what is measured)."""
    st = state_for(config)
    rng = np.random.default_rng(1)
    rows: list[dict[str, Any]] = []
    for d in docs:
        for o in range(doc_chunks):
            start, end = o * CHUNK_CHARS, min((o + 1) * CHUNK_CHARS, len(d.text))
            v = rng.standard_normal(dim).astype(np.float32)
            rows.append(
                {
                    "id": chunk_key(d.doc_id, o, start, end),
                    "doc_id": d.doc_id,
                    "ordinal": o,
                    "start": start,
                    "end": end,
                    "source": d.source,
                    "date": "",
                    "ver": 1,
                    "thash": f"{d.doc_id}{o}",
                    "vector": (v / np.linalg.norm(v)).tolist(),
                    "lexical": terms(f"{d.title}\n{d.text[start:end]}"),
                }
            )
        if len(rows) >= 20_000:
            st.insert_chunks(rows)
            rows = []
    st.insert_chunks(rows)
    st.insert_documents(docs, {d.doc_id: doc_chunks for d in docs}, 1)
    state = st.read_state()
    assert state is not None
    counts = {"documents": len(docs), "chunks": len(docs) * doc_chunks}
    st.write_state(1, state.settings, "", 0.0, counts)
    st.flush_all()


def run(uri: str, n_chunks: int, doc_chunks: int, root: Path) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    config = Config.from_env(
        {"root": root},
        environ={
            "RAG_STORE": "milvus",
            "RAG_MILVUS_STATE": "shared",
            "RAG_MILVUS_URI": uri,
            "RAG_MILVUS_COLLECTION": prefix,
            "RAG_LEXICAL": "milvus",
        },
    ).replace(index_type="hnsw" if n_chunks >= 50_000 else "flat")
    embedder = Embedder(config.embedding_model)
    docs = synthetic_documents(max(1, n_chunks // doc_chunks), doc_chunks)
    st = state_for(config)
    out: dict[str, Any] = {"chunks": len(docs) * doc_chunks, "documents": len(docs)}
    try:
        t = time.perf_counter()
        _create(st, config, _settings(config, embedder, out["chunks"]), out["chunks"])
        fill(config, docs, embedder.dim, doc_chunks)
        out["fill_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        snap = _load(st, config, None)
        out["replica_full_load_s"] = round(time.perf_counter() - t, 2)
        out["rows_before"] = st.count(st.chunks)
        _last[:] = [snap]
        updates = [_update_one(st, config, embedder, docs, i) for i in range(UPDATES)]
        for key in ("update_total_s", "update_milvus_s", "replica_pickup_s"):
            out[key] = round(statistics.median(u[key] for u in updates), 3)
        for key in ("rows_inserted", "rows_deleted", "embedded", "reused"):
            out[key] = updates[-1][key]
        out["replica_saw_every_update"] = all(u["seen"] for u in updates)
        out["rows_after"] = st.count(st.chunks)
        snap2 = _load(st, config, snap)
        queries = embedder.encode_documents([f"bridge report {i}" for i in range(30)])
        times = []
        for q in queries:
            t = time.perf_counter()
            snap2.index.store.search(q[None, :], 10)
            times.append((time.perf_counter() - t) * 1000)
        out["search_ms_p50"] = round(statistics.median(times), 2)
        out["writer"] = me()
    finally:
        st.drop()
    return out


UPDATES = 5  # one-document updates measured (medians reported)


def _update_one(
    st: Any, config: Config, embedder: Embedder, docs: list[Document], n: int
) -> dict[str, Any]:
    """Edit document ``n`` (an added sentence) through the real writer, then reload a
    replica snapshot taken just before; ``docs`` is updated in place."""
    snap = _load(st, config, _last[0])
    at = len(docs) // 2 + n
    edited = docs[at]
    half = len(edited.text) // 2
    text = f"{edited.text[:half]} The bridge reopened in May. {edited.text[half:]}"
    docs[at] = Document(content_id(text), edited.source, edited.title, text)
    report = SharedBuildReport()
    holder = f"{me()}:bench"
    t = time.perf_counter()
    st.acquire(config.milvus_lease_s, holder)
    try:
        _write_batch(st, config, embedder, docs, (), report, {}, holder)
    finally:
        st.release(holder)
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
        "seen": moved and after.index.document(edited.source).doc_id == docs[at].doc_id,
    }


_last: list[Any] = []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", required=True, help="a Milvus server, e.g. http://127.0.0.1:19530")
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--doc-chunks", type=int, default=20)
    p.add_argument("--root", type=Path, default=Path("."))
    args = p.parse_args(argv)
    print(json.dumps(run(args.uri, args.chunks, args.doc_chunks, args.root), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
