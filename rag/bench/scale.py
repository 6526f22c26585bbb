"""Synthetic scales on FAISS: vectors, BM25, exact and approximate indexes (with their
efSearch/nprobe sweeps), hybrid retrieval and the stock baseline."""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.measure import (
    disk_bytes,
    env_int,
    log,
    peak_rss_mb,
    ratio,
    recall_vs_exact,
    retrieval_series,
    rss_mb,
    search_series,
    stats,
    timed,
)
from rag.bench.milvus import bench_milvus_scale
from rag.bench.plan import (
    DERIVED_NOISE,
    HNSW_EF_SWEEP,
    IVF_NPROBE_SWEEP,
    POOL,
    RECALL_K,
    SEED,
    TARGETS,
    WARMUP,
    Bench,
    Scale,
    ScaleCorpus,
    dev_questions,
)
from rag.bench.stock import Stock
from rag.bench.updates import DEFAULT_UPDATES, bench_updates
from rag.config import Config


def bench_scale(bench: Bench, scale: Scale, embedder: Any, stock: Stock | None) -> dict[str, Any]:
    """One synthetic corpus: vectors, BM25, each index kind, hybrid retrieval, stock."""
    from rag.bench.synthetic import SyntheticCorpus
    from rag.store.faiss_store import bare_flat_index

    cfg = bench.config
    out: dict[str, Any] = {"chunks": scale.n, "vectors_mode": scale.vectors}
    rss0 = rss_mb()
    t0 = time.perf_counter()
    corpus = SyntheticCorpus(scale.n, seed=SEED, corpus_dir=cfg.corpus_path)
    docs, rows = corpus.documents()
    texts = corpus.chunk_texts()
    titled = [f"{docs[d].title}\n{t}" for d, t in zip(rows["doc"].tolist(), texts, strict=True)]
    out["generate_s"] = round(time.perf_counter() - t0, 2)
    log(f"{scale.n:,} chunks: generated in {out['generate_s']:.1f} s; vectors: {scale.vectors}")

    vectors = _vectors_for(scale, titled, embedder, out)
    queries = corpus.questions(bench.queries, [r["question"] for r in dev_questions(cfg)])
    qv = np.vstack([embedder.encode_query(q) for q in queries])

    folder = bench.work / f"scale-{scale.n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    bm25 = _bench_bm25(titled, queries, folder, cfg.candidates, out)

    # Floor: a bare in-memory IndexFlatIP.
    floor = bare_flat_index(vectors)
    fl_times, truth = search_series(floor, qv, RECALL_K)
    out["floor_ms"] = stats(fl_times)
    del floor
    gc.collect()

    sc = ScaleCorpus(docs, rows, titled, vectors, queries, qv, truth, bm25)
    out["indexes"] = {}
    for kind in _faiss_kinds():
        out["indexes"][kind] = _bench_faiss(bench, sc, kind, embedder, folder, out["floor_ms"])
    if cfg.store == "milvus":
        out["milvus"] = bench_milvus_scale(bench, sc, embedder, folder)
        if env_int("RAG_BENCH_UPDATES", DEFAULT_UPDATES) > 0:  # issue 21: in place vs FAISS
            out["updates"] = bench_updates(cfg, scale.n, embedder, folder / "updates")
    out["stock"] = _stock_scale(stock, scale, titled, rows, docs, vectors, queries)
    out["rss_mb"] = {"start": rss0, "end": rss_mb(), "peak": peak_rss_mb()}
    shutil.rmtree(folder, ignore_errors=True)
    return out


def _bench_bm25(
    titled: list[str], queries: Sequence[str], folder: Path, candidates: int, out: dict[str, Any]
) -> Any:
    """Build, save and reload BM25 over the corpus (figures go into ``out``); the index."""
    from rag.store.lexical import BM25Index

    t0 = time.perf_counter()
    bm25 = BM25Index.build(titled)
    build_s = time.perf_counter() - t0
    bm25.save(folder / "bm25")
    gc.collect()
    bm25 = BM25Index.load(folder / "bm25", expected=len(titled))
    bm_times = [timed(lambda q=q: bm25.search(q, candidates))[1] for q in queries]
    out["bm25"] = {
        "build_s": round(build_s, 2),
        "bytes": disk_bytes(folder / "bm25"),
        "search_ms": stats(bm_times),
        "vocabulary": len(bm25.vocab),
    }
    log(f"  bm25: built in {build_s:.1f} s, p50 {out['bm25']['search_ms']['p50']:.2f} ms")
    return bm25


def _faiss_kinds() -> list[str]:
    """Exact search, then the approximate kinds of ``RAG_BENCH_ANN`` (default hnsw,ivf)."""
    return ["flat"] + [
        k.strip()
        for k in os.environ.get("RAG_BENCH_ANN", "hnsw,ivf").split(",")
        if k.strip() in {"hnsw", "ivf"}
    ]


def _bench_faiss(
    bench: Bench,
    sc: ScaleCorpus,
    kind: str,
    embedder: Any,
    folder: Path,
    floor_ms: dict[str, float],
) -> dict[str, Any]:
    """One FAISS index kind: build, size, load, search and recall, sweep, hybrid retrieval."""
    from rag.store.index import ChunkTable, Index

    cfg = bench.config
    res: dict[str, Any] = {}
    rss_before = rss_mb()
    store = _build_and_load(cfg, sc.vectors, kind, folder, res)
    times, got = search_series(store, sc.qv, RECALL_K)
    res["search_ms"] = stats(times)
    res["recall_at_10"] = recall_vs_exact(sc.truth, got, RECALL_K)
    res["sweep"] = _sweep(store, kind, sc.qv, sc.truth)
    index = Index(sc.docs, ChunkTable(sc.docs, sc.rows), store, sc.bm25, {}, folder)
    res["retrieval_ms"] = retrieval_series(index, embedder, cfg, sc.queries)
    op = _operating_point(res["sweep"], kind)
    if op is not None and res["recall_at_10"] < TARGETS["ann_recall"]:
        # The configured setting loses recall: measure at the cheapest one that does not.
        key, value = op
        _set_param(store, key, value)
        res["operating_point"] = {
            key: value,
            **next(r for r in res["sweep"] if r[key] == value),
        }
        res["retrieval_ms_at_operating_point"] = retrieval_series(index, embedder, cfg, sc.queries)
    res["rss_delta_mb"] = round(rss_mb() - rss_before, 1)
    if kind == "flat":
        res["ratio_vs_floor"] = ratio(res["search_ms"]["p50"], floor_ms["p50"])
    log(
        f"  {kind}: build {res['build_s']:.1f} s, search p50 {res['search_ms']['p50']:.3f} ms, "
        f"recall@10 {res['recall_at_10']:.3f}, retrieval p50 "
        f"{res['retrieval_ms']['total']['p50']:.2f} ms"
    )
    del store, index
    gc.collect()
    return res


def _build_and_load(
    cfg: Config, vectors: np.ndarray, kind: str, folder: Path, res: dict[str, Any]
) -> Any:
    """Build an index of ``kind``, persist it and load it back (build, size, load time and
    parameters go into ``res``); the loaded store."""
    from rag.store.faiss_store import FaissStore

    t0 = time.perf_counter()
    store = FaissStore.build(
        vectors,
        kind,
        hnsw_m=cfg.hnsw_m,
        hnsw_ef_search=cfg.hnsw_ef_search,
        ivf_nlist=cfg.ivf_nlist,
        ivf_nprobe=cfg.ivf_nprobe,
    )
    res["build_s"] = round(time.perf_counter() - t0, 2)
    path = folder / f"vectors-{kind}.faiss"
    store.persist(path)
    res["bytes"] = disk_bytes(path)
    del store
    gc.collect()
    n, dim = vectors.shape
    store, load_ms = timed(
        lambda: FaissStore.load(
            path,
            kind,
            expected=n,
            dim=dim,
            ef_search=cfg.hnsw_ef_search,
            nprobe=cfg.ivf_nprobe,
        )
    )
    res["load_ms"] = round(load_ms, 2)
    if kind == "hnsw":
        res["params"] = {"M": cfg.hnsw_m, "efSearch": cfg.hnsw_ef_search}
    elif kind == "ivf":
        res["params"] = {"nlist": int(store.index.nlist), "nprobe": int(store.index.nprobe)}
    return store


def _vectors_for(scale: Scale, texts: list[str], embedder: Any, out: dict[str, Any]) -> np.ndarray:
    from rag.bench.synthetic import derived_vectors, random_unit_vectors

    dim = embedder.dim
    if scale.vectors == "random":
        out["vectors"] = "random unit vectors (uniform on the sphere; worst case for ANN)"
        return random_unit_vectors(scale.n, dim, SEED)
    sample = texts if scale.vectors == "real" else texts[:: max(1, len(texts) // POOL)][:POOL]
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    vecs = embedder.encode_documents(sample)
    secs = time.perf_counter() - t0
    out["embed"] = {
        "chunks": len(sample),
        "seconds": round(secs, 3),
        "cpu_seconds": round(time.process_time() - cpu0, 3),
        "chunks_per_s": round(len(sample) / max(secs, 1e-9), 1),
    }
    if scale.vectors == "real":
        out["vectors"] = "real embeddings of every chunk"
        return vecs
    out["vectors"] = (
        f"derived: mixtures of real embeddings of {len(sample)} sampled chunks plus noise "
        f"(norm {DERIVED_NOISE})"
    )
    return derived_vectors(vecs, scale.n, noise=DERIVED_NOISE, seed=SEED)


def _sweep(store: Any, kind: str, qv: np.ndarray, truth: np.ndarray) -> list[dict[str, Any]]:
    """Latency and recall@10 across efSearch (HNSW) or nprobe (IVF)."""
    if kind == "flat":
        return []
    rows = []
    if kind == "hnsw":
        saved = store.index.hnsw.efSearch
        for ef in HNSW_EF_SWEEP:
            store.index.hnsw.efSearch = ef
            times, got = search_series(store, qv, RECALL_K)
            rows.append(
                {
                    "efSearch": ef,
                    "p50": stats(times)["p50"],
                    "recall": recall_vs_exact(truth, got, 10),
                }
            )
        store.index.hnsw.efSearch = saved
    else:
        saved = store.index.nprobe
        for nprobe in IVF_NPROBE_SWEEP:
            if nprobe > store.index.nlist:
                break
            store.index.nprobe = nprobe
            times, got = search_series(store, qv, RECALL_K)
            rows.append(
                {
                    "nprobe": nprobe,
                    "p50": stats(times)["p50"],
                    "recall": recall_vs_exact(truth, got, 10),
                }
            )
        store.index.nprobe = saved
    return rows


def _operating_point(sweep: list[dict[str, Any]], kind: str) -> tuple[str, int] | None:
    """The cheapest efSearch/nprobe of the sweep with recall@10 >= the target."""
    key = "efSearch" if kind == "hnsw" else "nprobe"
    ok = [r for r in sweep if r["recall"] >= TARGETS["ann_recall"]]
    return (key, min(ok, key=lambda r: r["p50"])[key]) if ok else None


def _set_param(store: Any, key: str, value: int) -> None:
    if key == "efSearch":
        store.index.hnsw.efSearch = value
    else:
        store.index.nprobe = value


def _stock_scale(
    stock: Stock | None,
    scale: Scale,
    texts: list[str],
    rows: np.ndarray,
    docs: list[Any],
    vectors: np.ndarray,
    queries: Sequence[str],
) -> dict[str, Any] | None:
    limit = env_int("RAG_BENCH_STOCK_MAX", 100_000)
    if stock is None:
        return None
    if scale.n > limit:
        return {"skipped": f"over RAG_BENCH_STOCK_MAX={limit} chunks (memory and time)"}
    ids = [f"c{i}" for i in range(scale.n)]
    secs = stock.build(texts, ids, embeddings=vectors)
    for q in queries[:WARMUP]:
        stock.retrieve(q)
    e, d, r = [], [], []
    for q in queries:
        qvec, ms = timed(lambda q=q: stock.embed(q))
        e.append(ms)
        d.append(timed(lambda qvec=qvec: stock.dense(qvec))[1])
        r.append(timed(lambda q=q: stock.retrieve(q))[1])
    out = {
        "build_s": round(secs, 2),
        "embed_ms": stats(e),
        "dense_ms": stats(d),
        "retrieve_ms": stats(r),
        "note": "vectors precomputed (the same as ours); build = node creation + index",
    }
    stock.index = stock.retriever = stock.engine = stock.vector_store = None
    gc.collect()
    return out
