"""One edited document, two stores (issue 21): what an update and a replica's pickup of
it cost on FAISS and on the shared Milvus index, measured in the same run.

``rag bench --store milvus --scale N`` calls :func:`bench_updates` for each scale. Both
sides get the same synthetic documents (:func:`rag.store.milvus_bench.documents_for`:
about N chunks under the run's chunking) and the same edits (a sentence added in the
middle of one document, ``RAG_BENCH_UPDATES`` times, default 3; medians reported):

- FAISS: the documents are files in a corpus folder; the starting index is built by the
  real :func:`~rag.store.build.build_index` with random vectors handed in for every chunk
  (nothing embedded, not measured). Each update rewrites the file and runs
  ``build_index`` again, the real incremental path: only the edited chunks are embedded,
  but a whole new generation is written (chunk table, BM25, the vector index). The pickup
  is another process's reload of that generation (:func:`~rag.store.index.load_index`).
- Milvus: :func:`rag.store.milvus_bench.run`, the real shared-state writer editing the
  document in place, and a replica's poll + incremental reload. A Milvus server when the
  run's ``RAG_MILVUS_URI`` names one, else a Milvus Lite file in the scale's folder.

The ratios (Milvus / FAISS) are within one run, so the machine's load affects both sides
alike; absolute seconds depend on it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.measure import env_int, log, ratio
from rag.config import Config
from rag.types import Document

DOC_CHUNKS = 20  # synthetic documents of 20 x 600 characters
DEFAULT_UPDATES = 3


def bench_updates(config: Config, n_chunks: int, embedder: Any, folder: Path) -> dict[str, Any]:
    """FAISS and Milvus one-document update and pickup at about ``n_chunks`` chunks, with
    the Milvus / FAISS ratios; an error on one side is reported, not raised."""
    from rag.store import milvus_bench

    updates = max(1, env_int("RAG_BENCH_UPDATES", DEFAULT_UPDATES))
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"updates": updates, "doc_chunks": DOC_CHUNKS}
    try:
        out["faiss"] = faiss_updates(config, n_chunks, embedder, folder / "faiss", updates)
    except Exception as exc:  # a failed side must not cost the rest of the run
        out["faiss"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    uri = config.milvus_uri if "://" in config.milvus_uri else str(folder / "milvus-shared.db")
    try:
        out["milvus"] = milvus_bench.run(
            uri,
            n_chunks,
            DOC_CHUNKS,
            folder / "milvus",
            base=config,
            embedder=embedder,
            updates=updates,
        )
    except Exception as exc:
        out["milvus"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    f, m = out["faiss"], out["milvus"]
    out["ratios"] = {
        "update_total": ratio(m.get("update_total_s"), f.get("update_total_s")),
        "replica_pickup": ratio(m.get("replica_pickup_s"), f.get("replica_pickup_s")),
    }
    log(
        f"  one-document update at {n_chunks:,} chunks: FAISS {f.get('update_total_s')} s "
        f"(pickup {f.get('replica_pickup_s')} s), Milvus {m.get('update_total_s')} s "
        f"(writes {m.get('update_milvus_s')} s, pickup {m.get('replica_pickup_s')} s)"
    )
    return out


def faiss_updates(
    base: Config, n_chunks: int, embedder: Any, root: Path, updates: int
) -> dict[str, Any]:
    """The FAISS side of :func:`bench_updates` (see the module docstring)."""
    from rag.store.build import build_index
    from rag.store.index import load_index
    from rag.store.milvus_bench import documents_for, edit, edited_at

    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    config = base.replace(
        root=root,
        corpus_dir=corpus,
        index_dir=root / "index",
        upload_dir=root / "no-uploads",
        store="faiss",
        lexical="bm25s",
        auto_index=False,
    )
    docs = documents_for(config, n_chunks, DOC_CHUNKS)
    paths = [corpus / f"{i:06d}.txt" for i in range(len(docs))]
    for p, d in zip(paths, docs, strict=True):
        p.write_text(d.text, encoding="utf-8")
    t = time.perf_counter()
    first = build_index(
        config, embedder, progress=False, precomputed=_random_vectors(config, embedder.dim)
    )
    out: dict[str, Any] = {
        "documents": first.documents,
        "chunks": first.chunks,
        "index_type": first.index_type,
        "full_build_s": round(time.perf_counter() - t, 2),
    }
    t = time.perf_counter()
    load_index(config)
    out["replica_full_load_s"] = round(time.perf_counter() - t, 2)
    done = []
    for n in range(updates):
        at = edited_at(docs, n)
        docs[at] = edit(docs[at])
        paths[at].write_text(docs[at].text, encoding="utf-8")
        t = time.perf_counter()
        report = build_index(config, embedder, progress=False)
        total = time.perf_counter() - t
        t = time.perf_counter()
        replica = load_index(config)  # what a follower does on a new generation
        pickup = time.perf_counter() - t
        seen = any(d.text == docs[at].text for d in replica.docs)
        done.append((total, pickup, report.embedded, report.reused, seen))
    out["update_total_s"] = round(statistics.median(d[0] for d in done), 3)
    out["replica_pickup_s"] = round(statistics.median(d[1] for d in done), 3)
    out["embedded"], out["reused"] = done[-1][2], done[-1][3]
    out["rows_rewritten"] = first.chunks  # a new generation holds every row again
    out["replica_saw_every_update"] = all(d[4] for d in done)
    return out


def _random_vectors(config: Config, dim: int) -> dict[str, np.ndarray]:
    """Random unit vectors for every chunk of the corpus as ``build_index`` will read and
    chunk it, keyed as its ``precomputed`` expects: the starting index without embedding."""
    from rag.ingest.chunking import chunk_document
    from rag.ingest.readers import load_corpus
    from rag.store.index import embed_text
    from rag.store.milvus_writer import text_hash

    rng = np.random.default_rng(2)
    docs: list[Document] = load_corpus(config.corpus_paths, config.root)
    out = {}
    for d in docs:
        for c in chunk_document(d, config.chunk_size, config.chunk_overlap):
            v = rng.standard_normal(dim).astype(np.float32)
            out[text_hash(embed_text(c, config.embed_title))] = v / np.linalg.norm(v)
    return out


def _cell(side: dict[str, Any], key: str) -> str:
    value = side.get(key)
    return "–" if value is None else str(value)


def updates_markdown(sc: dict[str, Any]) -> list[str]:
    """bench.md's table of one scale's update figures, FAISS and Milvus side by side."""
    up = sc.get("updates")
    if not up:
        return []
    f, m, r = up.get("faiss", {}), up.get("milvus", {}), up.get("ratios", {})
    where = "Milvus server" if m.get("uri_kind") == "server" else "Milvus Lite file"
    rows = [
        ("chunks", "chunks", "chunks"),
        ("one-document update, whole (s)", "update_total_s", "update_total_s"),
        ("of which Milvus writes (s)", None, "update_milvus_s"),
        ("chunks embedded / reused", None, None),
        ("rows written per update", "rows_rewritten", "rows_inserted"),
        ("other replica's pickup (s)", "replica_pickup_s", "replica_pickup_s"),
        ("replica's first load (s)", "replica_full_load_s", "replica_full_load_s"),
        ("writing the whole index (s)", "full_build_s", "fill_s"),
    ]
    lines = [
        f"### One-document update at {sc['chunks']:,} chunks (FAISS vs {where}, same documents "
        f"and edits, medians of {up['updates']})",
        "",
        "| | FAISS (new generation) | Milvus shared (in place) | Milvus / FAISS |",
        "|---|---:|---:|---:|",
    ]
    ratios = {"update_total_s": r.get("update_total"), "replica_pickup_s": r.get("replica_pickup")}
    for label, fk, mk in rows:
        if fk is None and mk is None:
            fv = f"{_cell(f, 'embedded')} / {_cell(f, 'reused')}"
            mv = f"{_cell(m, 'embedded')} / {_cell(m, 'reused')}"
        else:
            fv = "–" if fk is None else _cell(f, fk)
            mv = _cell(m, mk) if mk else "–"
        ratio_cell = ratios.get(fk or "")
        lines.append(f"| {label} | {fv} | {mv} | {'–' if ratio_cell is None else ratio_cell} |")
    for name, side in (("FAISS", f), ("Milvus", m)):
        if side.get("error"):
            lines.append(f"\n{name} side failed: {side['error']}")
    return [*lines, ""]


def updates_row(sc: dict[str, Any]) -> str | None:
    """The terminal table's line for one scale's update figures."""
    up = sc.get("updates")
    if not up:
        return None
    f, m, r = up.get("faiss", {}), up.get("milvus", {}), up.get("ratios", {})
    return (
        f"update 1 doc  FAISS {_cell(f, 'update_total_s')} s, pickup "
        f"{_cell(f, 'replica_pickup_s')} s | Milvus {_cell(m, 'update_total_s')} s "
        f"(writes {_cell(m, 'update_milvus_s')} s), pickup {_cell(m, 'replica_pickup_s')} s"
        f" | ratios {r.get('update_total')} / {r.get('replica_pickup')}"
    )
