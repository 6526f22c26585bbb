"""`rag bench`: scale parsing, synthetic corpora, and a tiny end-to-end run.

The end-to-end run is real (ONNX encoder, FAISS, bm25s, the stock LlamaIndex
baseline, a cold-start subprocess) but small: 3 queries, a 2,000-chunk corpus of
random vectors. Timings are reported, never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.bench import SEED_STAGES, Scale, parse_scales, stats
from rag.bench.report import encoder_rows
from rag.bench.synthetic import SyntheticCorpus, derived_vectors, random_unit_vectors
from rag.errors import RagError

ROOT = Path(__file__).resolve().parents[1]


def test_parse_scales() -> None:
    assert parse_scales(None) == []
    assert parse_scales("2000:random, 10k,1m") == [
        Scale(2000, "random"),
        Scale(10_000, "real"),
        Scale(1_000_000, "derived"),
    ]
    assert parse_scales("100_000:real") == [Scale(100_000, "real")]
    for bad in ("abc", "50", "1000:fancy"):
        with pytest.raises(RagError):
            parse_scales(bad)


def test_stats() -> None:
    s = stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["p50"] == 3.0 and s["n"] == 5 and s["p95"] > s["p50"]
    assert stats([])["n"] == 0


def test_synthetic_corpus_is_deterministic_and_consistent() -> None:
    a = SyntheticCorpus(250, seed=7, corpus_dir=ROOT / "seeds")
    b = SyntheticCorpus(250, seed=7, corpus_dir=ROOT / "seeds")
    c = SyntheticCorpus(250, seed=8, corpus_dir=ROOT / "seeds")
    assert a.chunk_texts() == b.chunk_texts()
    assert a.chunk_texts() != c.chunk_texts()
    texts = a.chunk_texts()
    assert len(texts) == 250 and len(set(texts)) > 200
    assert 200 < np.mean([len(t) for t in texts]) < 700
    docs, rows = a.documents()
    assert len(docs) == 25 and len(rows) == 250
    for i in (0, 13, 249):
        d, _, start, end = rows[i].tolist()
        assert docs[d].text[start:end] == texts[i]
    qs = a.questions(12, ["first real question?"])
    assert len(qs) == 12 and qs[0] == "first real question?"


def test_vectors_are_unit_and_deterministic() -> None:
    r = random_unit_vectors(300, 16, seed=3)
    assert r.shape == (300, 16) and r.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(r, random_unit_vectors(300, 16, seed=3))
    d = derived_vectors(r[:20], 500, noise=0.5, seed=3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, rtol=1e-5)
    # each derived vector stays close to some pool vector: neighbourhood structure
    assert float(np.median((d @ r[:20].T).max(axis=1))) > 0.6


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("bench")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    (root / "eval" / "datasets").mkdir(parents=True)
    shutil.copy(ROOT / "eval" / "datasets" / "seeds_dev.jsonl", root / "eval" / "datasets")
    out = root / "report"
    mp = pytest.MonkeyPatch()
    mp.setenv("RAG_BENCH_INGEST_CHUNKS", "60")
    mp.setenv("RAG_BENCH_STOCK_INGEST_CHUNKS", "12")
    mp.setenv("RAG_BENCH_COLD_RUNS", "1")
    from rag.cli import main

    try:
        code = main(
            [
                "bench",
                "--root",
                str(root),
                "--scale",
                "2000:random",
                "--queries",
                "3",
                "--out",
                str(out),
            ]
        )
    finally:
        mp.undo()
    assert code == 0
    return json.loads((out / "bench.json").read_text("utf-8")), out


def test_bench_writes_every_file(bench_run: tuple[dict, Path]) -> None:
    _, out = bench_run
    for name in (
        "bench.json",
        "bench.md",
        "latency_vs_size.png",
        "ingest_throughput.png",
        "seed_stages.png",
    ):
        assert (out / name).stat().st_size > 0, name
    md = (out / "bench.md").read_text("utf-8")
    assert "## Seeds" in md and "## 2,000 synthetic chunks" in md and "## Targets" in md
    assert "### Encoders: speed next to recall" in md


def _is_stat(v: object) -> bool:
    return isinstance(v, dict) and {"p50", "p95", "mean", "n"} <= set(v) and v["n"] > 0


def test_bench_report_has_every_field(bench_run: tuple[dict, Path]) -> None:
    report, _ = bench_run
    meta = report["meta"]
    for key in ("started_at", "queries", "machine", "targets", "floors", "encoder", "peak_rss_mb"):
        assert key in meta, key
    seeds = report["seeds"]
    for stage in (*SEED_STAGES, "answer_uncached", "embed_cached", "floor_dense"):
        assert _is_stat(seeds["stages_ms"][stage]), stage
    assert "rerank" in seeds["stages_ms"]
    for stage in ("embed", "dense", "retrieve", "answer"):
        assert _is_stat(seeds["stock_ms"][stage]), stage
        assert seeds["ratios_vs_stock"][stage] > 0, stage
    assert seeds["ratio_dense_vs_floor"] > 0
    assert seeds["build"]["seconds"] > 0 and seeds["build"]["index_bytes"] > 0
    assert seeds["corpus"]["chunks"] > 0
    cold = seeds["cold_start"]
    assert _is_stat(cold["seconds"]) and cold["peak_rss_mb"] > 0, cold
    recall = seeds["recall_at_5"]
    backend = seeds["encoder"]["backend"]
    assert {backend, "torch"} <= set(recall)
    for name in set(recall) - {"drop_points"}:
        assert set(recall[name]) == {"hybrid", "dense", "hybrid@1", "dense@1"}, name
        assert all(0.0 <= v <= 1.0 for v in recall[name].values()), name
    if backend != "torch":
        assert set(recall["drop_points"][backend]) == {"hybrid", "dense", "hybrid@1", "dense@1"}
    ingest = report["ingest"]
    assert ingest["chunks"] > 0 and ingest["chunks_per_s"] > 0
    assert ingest["stock"]["chunks_per_s"] > 0
    assert ingest["chunks_per_cpu_s"] > 0 and ingest["mean_chunk_chars"] > 0
    if backend == "onnx":
        assert ingest["int8"]["chunks_per_s"] > 0 and ingest["qdq"]["chunks_per_s"] > 0
        assert {"onnx-int8", "onnx-qdq"} <= set(recall)
        assert _is_stat(seeds["stages_ms"]["embed_int8"]) and _is_stat(
            seeds["stages_ms"]["embed_qdq"]
        )
        rows = {r["encoder"]: r for r in encoder_rows(seeds, ingest)}
        assert rows["onnx (default)"]["query_vs_default"] == 1.0
        for name in ("onnx-int8", "onnx-qdq"):  # speed next to recall, for every encoder
            assert rows[name]["query_p50_ms"] > 0 and rows[name]["ingest_chunks_per_s"] > 0
            assert rows[name]["recall5_hybrid"] == recall[name]["hybrid"]

    (scale,) = report["scales"]
    assert scale["chunks"] == 2000 and scale["vectors_mode"] == "random"
    assert _is_stat(scale["floor_ms"]) and _is_stat(scale["bm25"]["search_ms"])
    assert scale["bm25"]["build_s"] >= 0 and scale["bm25"]["bytes"] > 0
    assert set(scale["indexes"]) == {"flat", "hnsw", "ivf"}
    for kind, idx in scale["indexes"].items():
        assert idx["build_s"] >= 0 and idx["bytes"] > 0, kind
        assert _is_stat(idx["search_ms"]), kind
        assert 0.0 <= idx["recall_at_10"] <= 1.0, kind
        for stage in ("embed", "dense", "bm25", "fusion", "total"):
            assert _is_stat(idx["retrieval_ms"][stage]), (kind, stage)
    assert scale["indexes"]["flat"]["recall_at_10"] == 1.0
    assert scale["indexes"]["hnsw"]["sweep"] and scale["indexes"]["ivf"]["sweep"]
    assert _is_stat(scale["stock"]["retrieve_ms"])

    names = {t["target"] for t in report["targets"]}
    assert len(names) >= 10
    for t in report["targets"]:
        assert {"goal", "measured", "met", "note"} <= set(t)


@pytest.mark.slow
def test_bench_through_milvus_seeds_and_scale(tmp_path: Path) -> None:
    """`rag bench --store milvus --scale N`: the seed stages through Milvus, and a synthetic
    corpus measured on FAISS and Milvus side by side (Milvus BM25 included)."""
    pytest.importorskip("pymilvus")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    (tmp_path / "eval" / "datasets").mkdir(parents=True)
    shutil.copy(ROOT / "eval" / "datasets" / "seeds_dev.jsonl", tmp_path / "eval" / "datasets")
    out = tmp_path / "report"
    mp = pytest.MonkeyPatch()
    for name, value in [
        ("INGEST_CHUNKS", "30"),
        ("STOCK", "0"),
        ("COLD_RUNS", "1"),
        ("RECALL", "0"),
        ("ANN", ""),
        ("MILVUS", "flat"),
        ("UPDATES", "1"),
    ]:
        mp.setenv(f"RAG_BENCH_{name}", value)
    from rag.cli import main

    try:
        code = main(
            [
                "bench",
                "--root",
                str(tmp_path),
                "--store",
                "milvus",
                "--queries",
                "3",
                "--scale",
                "1000:random",
                "--out",
                str(out),
            ]
        )
    finally:
        mp.undo()
    assert code == 0
    report = json.loads((out / "bench.json").read_text("utf-8"))
    assert report["seeds"]["build"]["index_type"] == "milvus"
    cold = report["seeds"]["cold_start"]  # a second process opens the Milvus Lite file
    assert "error" not in cold and cold["answer_head"], cold
    for stage in ("embed", "dense", "bm25", "fusion", "retrieve", "answer"):
        assert _is_stat(report["seeds"]["stages_ms"][stage]), stage
    (scale,) = report["scales"]
    assert set(scale["indexes"]) == {"flat"}  # FAISS, the baseline of the same run
    milvus = scale["milvus"]["indexes"]["flat"]
    assert milvus["index_type"] == "FLAT" and milvus["recall_at_10"] == 1.0
    assert milvus["insert_rows_s"] > 0 and _is_stat(milvus["search_ms"])
    assert _is_stat(milvus["retrieval_ms"]["total"])
    assert _is_stat(milvus["retrieval_ms_milvus_bm25"]["total"])
    assert _is_stat(milvus["milvus_bm25_ms"]) and 0 <= milvus["bm25_top1_agreement"] <= 1
    md = (out / "bench.md").read_text("utf-8")
    assert "Milvus at 1,000 chunks (Milvus Lite file" in md and "| Milvus FLAT |" in md
    up = scale["updates"]  # issue 21: the one-document update, both stores, same run
    assert up["updates"] == 1 and "error" not in up["faiss"] and "error" not in up["milvus"]
    assert up["milvus"]["replica_saw_every_update"] and up["faiss"]["replica_saw_every_update"]
    assert "### One-document update at 1,000 chunks" in md


@pytest.mark.slow
def test_one_document_update_on_faiss_and_milvus(tmp_path: Path) -> None:
    """The update measurement of `rag bench --store milvus` on a small synthetic corpus:
    the same documents and edits on both stores; FAISS rewrites every row, the shared
    Milvus index replaces only the edited document's rows, and both embed only its
    changed chunks; the other replica sees every edit."""
    pytest.importorskip("pymilvus")
    from rag.bench.report import render_table
    from rag.bench.updates import bench_updates, updates_markdown
    from rag.config import Config
    from rag.embed.encoder import Embedder

    config = Config.from_env(
        {"root": tmp_path},
        environ={"RAG_STORE": "milvus", "RAG_MILVUS_URI": str(tmp_path / "m.db")},
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("RAG_BENCH_UPDATES", "2")
    try:
        up = bench_updates(config, 300, Embedder(config.embedding_model), tmp_path / "u")
    finally:
        mp.undo()
    f, m = up["faiss"], up["milvus"]
    assert "error" not in f and "error" not in m, up
    assert up["updates"] == 2 and f["documents"] == m["documents"] > 1
    assert f["chunks"] == m["chunks"] == m["rows_before"] == m["rows_after"]
    assert 250 <= f["chunks"] <= 350
    per_doc = f["chunks"] // f["documents"]
    # FAISS: a whole new generation; only the edited chunks embedded
    assert f["rows_rewritten"] == f["chunks"] and f["embedded"] + f["reused"] == f["chunks"]
    assert 0 < f["embedded"] <= per_doc + 1
    # Milvus: only that document's rows, and the same chunks embedded (same edit, chunker)
    assert m["rows_inserted"] == m["rows_deleted"] <= per_doc + 1
    assert m["embedded"] == f["embedded"] and m["embedded"] + m["reused"] == m["rows_inserted"]
    assert f["replica_saw_every_update"] and m["replica_saw_every_update"]
    for side in (f, m):
        assert side["update_total_s"] > 0 and side["replica_pickup_s"] > 0
    assert m["update_milvus_s"] <= m["update_total_s"]
    assert up["ratios"]["update_total"] > 0 and up["ratios"]["replica_pickup"] > 0
    md = "\n".join(updates_markdown({"chunks": f["chunks"], "updates": up}))
    assert "| one-document update, whole (s) |" in md and "Milvus Lite file" in md
    table = render_table({"scales": [{**_scale_stub(), "updates": up}], "targets": []})
    assert "update 1 doc  FAISS" in table


def _scale_stub() -> dict:
    """The least of a scale's report that the terminal table reads."""
    s = {"p50": 1.0, "p95": 1.0, "mean": 1.0, "n": 1}
    return {
        "chunks": 300,
        "vectors_mode": "random",
        "indexes": {},
        "floor_ms": s,
        "bm25": {"search_ms": s, "build_s": 0.0},
    }


@pytest.mark.parametrize(
    "backend,min_cos", [("onnx", 0.9999), ("onnx-int8", 0.98), ("onnx-qdq", 0.98)]
)
def test_onnx_encoders_match_torch_without_loading_it(backend: str, min_cos: float) -> None:
    from rag.embed.encoder import Embedder

    texts = [
        "How many hotline calls did the border guards make in 2025?",
        "Customs officers at the Hữu Nghị gate cleared 1,182 trucks on Tuesday, officials said.",
    ]
    fast = Embedder("all-MiniLM-L6-v2", backend=backend)
    got = np.vstack([fast.encode_query(texts[0]), fast.encode_many(texts[1:])])
    assert fast.backend == backend and fast._model is None  # no torch on this path
    assert got.shape == (2, fast.dim) and got.dtype == np.float32
    want = Embedder("all-MiniLM-L6-v2", backend="torch").encode_documents(texts)
    assert float((got * want).sum(1).min()) >= min_cos
    np.testing.assert_allclose(fast.encode_many(texts[1:])[0], got[1])  # cached, same vector


def test_a_background_thread_embeds_with_its_own_lower_priority_session() -> None:
    """Issue 17.3: a thread that lowered its priority (the app's upload worker) embeds
    through its own document session, created in it (ONNX Runtime's pool threads inherit
    the niceness), with the same vectors; the caller's session is left as it was."""
    import threading

    from rag.embed.encoder import Embedder, lower_thread_priority
    from rag.embed.onnx import thread_niceness

    emb = Embedder("all-MiniLM-L6-v2", backend="onnx")
    texts = ["Border guards held talks on coordination.", "The dam holds 8,812 megalitres."]
    want = emb.encode_documents(texts)
    got: dict[str, object] = {}

    def background() -> None:
        got["lowered"] = lower_thread_priority()
        got["nice"] = thread_niceness()
        got["vecs"] = emb.encode_documents(texts)

    t = threading.Thread(target=background)
    t.start()
    t.join()
    assert thread_niceness() == 0  # only that thread was lowered
    if not got["lowered"]:
        pytest.skip("this system does not let a thread lower its own priority")
    step = min(10, 19 - os.getpriority(os.PRIO_PROCESS, os.getpid()))  # 19 caps a nice run
    assert got["nice"] == step
    assert set(emb._onnx._docs) == {0, step}  # a session per priority
    np.testing.assert_allclose(got["vecs"], want, atol=1e-5)
