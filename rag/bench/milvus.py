"""Synthetic scales through Milvus (Lite or a server): insert, dense search, hybrid
retrieval with bm25s and with Milvus's own BM25."""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.measure import (
    disk_bytes,
    log,
    recall_vs_exact,
    retrieval_series,
    search_series,
    stats,
    timed,
)
from rag.bench.plan import RECALL_K, Bench, ScaleCorpus
from rag.config import Config


def bench_milvus_scale(
    bench: Bench, sc: ScaleCorpus, embedder: Any, folder: Path
) -> dict[str, Any]:
    """The same stages through Milvus Lite: insert, dense search (recall vs exact), hybrid
    retrieval with bm25s, and with Milvus's own BM25 (``RAG_LEXICAL=milvus``)."""
    from rag.store.index import ChunkTable

    cfg = bench.config
    meta = _row_meta(sc)
    kinds = [
        k.strip()
        for k in os.environ.get("RAG_BENCH_MILVUS", "flat,hnsw").split(",")
        if k.strip() in {"flat", "hnsw", "ivf"}
    ]
    server = "://" in cfg.milvus_uri  # a Milvus server or cluster; else a Milvus Lite file each
    out: dict[str, Any] = {
        "where": f"server {cfg.milvus_uri}" if server else "Milvus Lite file",
        "indexes": {},
    }
    table = ChunkTable(sc.docs, sc.rows)
    for kind in kinds:
        out["indexes"][kind] = _bench_milvus_kind(
            cfg, sc, kind, meta, table, embedder, folder, server
        )
    return out


def _row_meta(sc: ScaleCorpus) -> Any:
    """What Milvus stores beside each vector: chunk and document ids, source, span, terms."""
    from rag.store.base import RowMeta
    from rag.text import terms

    doc_ids = np.array([d.doc_id for d in sc.docs], dtype=object)[sc.rows["doc"]]
    return RowMeta(
        [f"{d}:{o}" for d, o in zip(doc_ids.tolist(), sc.rows["ordinal"].tolist(), strict=True)],
        doc_ids,
        np.array([d.source for d in sc.docs], dtype=object)[sc.rows["doc"]],
        sc.rows["start"].tolist(),
        sc.rows["end"].tolist(),
        [terms(t) for t in sc.titled],
    )


def _bench_milvus_kind(
    cfg: Config,
    sc: ScaleCorpus,
    kind: str,
    meta: Any,
    table: Any,
    embedder: Any,
    folder: Path,
    server: bool,
) -> dict[str, Any]:
    """One Milvus index type: insert, dense search and recall, hybrid retrieval (bm25s and,
    where the collection has full text, Milvus BM25)."""
    from rag.store.index import Index
    from rag.store.milvus_store import INDEX_TYPES

    res: dict[str, Any] = {"index_type": INDEX_TYPES[kind]}
    db = folder / f"milvus-{kind}.db"
    store = _insert(cfg, sc, kind, meta, db, server, res)
    times, got = search_series(store, sc.qv, RECALL_K)
    res["search_ms"] = stats(times)
    res["recall_at_10"] = recall_vs_exact(sc.truth, got, RECALL_K)
    index = Index(sc.docs, table, store, sc.bm25, {}, folder)
    res["retrieval_ms"] = retrieval_series(index, embedder, cfg, sc.queries)
    line = ""
    if store.full_text:
        res.update(_milvus_bm25(cfg, sc, store, index, embedder))
        line = f" (Milvus BM25: {res['retrieval_ms_milvus_bm25']['total']['p50']:.2f} ms)"
    log(
        f"  milvus {kind}: insert {res['build_s']:.1f} s ({res['insert_rows_s']:.0f} rows/s), "
        f"search p50 {res['search_ms']['p50']:.2f} ms, recall@10 {res['recall_at_10']:.3f}, "
        f"retrieval p50 {res['retrieval_ms']['total']['p50']:.2f} ms{line}"
    )
    if server:
        store.drop()
    store.close()
    del store, index
    gc.collect()
    return res


def _insert(
    cfg: Config,
    sc: ScaleCorpus,
    kind: str,
    meta: Any,
    db: Path,
    server: bool,
    res: dict[str, Any],
) -> Any:
    """A collection of the corpus (with full text where the server supports Milvus BM25);
    insert time, rate and file size go into ``res``."""
    from rag.store.milvus_store import INDEX_TYPES, MilvusStore, connect

    client = connect(cfg.milvus_uri, cfg.milvus_token) if server else connect(str(db))

    def build(with_text: bool) -> Any:
        return MilvusStore.build(
            client,
            f"bench_{kind}",
            sc.vectors,
            meta if with_text else dataclasses.replace(meta, text=None),
            index_type=INDEX_TYPES[kind],
            hnsw_m=cfg.hnsw_m,
            ef_search=cfg.hnsw_ef_search,
            nlist=cfg.ivf_nlist,
            nprobe=cfg.ivf_nprobe,
        )

    try:
        store, build_ms = timed(lambda: build(True))
    except Exception as exc:  # servers before Milvus 2.5 have no BM25 function
        res["milvus_bm25"] = f"not supported here ({type(exc).__name__}: {str(exc)[:120]})"
        store, build_ms = timed(lambda: build(False))
    res["build_s"] = round(build_ms / 1000, 2)
    res["insert_rows_s"] = round(len(sc.rows) / max(build_ms / 1000, 1e-9), 1)
    res["bytes"] = disk_bytes(db) if db.exists() else None
    return store


def _milvus_bm25(
    cfg: Config, sc: ScaleCorpus, store: Any, index: Any, embedder: Any
) -> dict[str, Any]:
    """Hybrid retrieval with Milvus's own BM25, its lexical search alone, and how often its
    top hit agrees with bm25s's."""
    from rag.text import terms

    retrieval = retrieval_series(index, embedder, cfg.replace(lexical="milvus"), sc.queries)
    lex = [timed(lambda q=q: store.lexical_search(terms(q), cfg.candidates))[1] for q in sc.queries]
    return {
        "retrieval_ms_milvus_bm25": retrieval,
        "milvus_bm25_ms": stats(lex),
        "bm25_top1_agreement": _lexical_agreement(store, sc.bm25, sc.queries),
    }


def _lexical_agreement(store: Any, bm25: Any, queries: Sequence[str]) -> float | None:
    """Share of queries whose top lexical hit is the same row in Milvus BM25 and bm25s."""
    from rag.text import terms

    pairs = []
    for q in queries:
        ours = bm25.search(q, 1)[1]
        theirs = store.lexical_search(terms(q), 1)[1]
        if len(ours):
            pairs.append(bool(len(theirs)) and int(theirs[0]) == int(ours[0]))
    return round(sum(pairs) / len(pairs), 3) if pairs else None
