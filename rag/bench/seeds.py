"""The seed corpus: every stage against the stock baseline and the bare-FAISS floor,
recall per encoder, ingest throughput and cold start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.measure import disk_bytes, env_flag, env_int, log, ratio, stats, timed
from rag.bench.plan import (
    SEED,
    SEED_STAGES,
    UNCACHED_ANSWERS,
    WARMUP,
    Bench,
    cycle,
    dev_questions,
    seed_config,
)
from rag.bench.stock import Stock
from rag.config import Config
from rag.errors import RagError

ALTERNATIVE_ENCODERS = ("onnx-int8", "onnx-qdq")  # timed and scored beside the default


def _alt_series(backend: str) -> str:
    """The stage series of an alternative encoder's query embedding: embed_int8, embed_qdq."""
    return "embed_" + backend.removeprefix("onnx-")


def _alt_key(backend: str | None) -> str:
    """Where an alternative encoder's ingest figures go: ``int8``, ``qdq``."""
    return (backend or "default").removeprefix("onnx-")


def _recall_at_k(retriever: Any, rows: list[dict[str, Any]], k: int, **kw: Any) -> float | None:
    """Share of answerable dev questions with an evidence string inside a top-``k`` passage."""
    import unicodedata

    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).casefold().split())

    scored = [r for r in rows if r.get("answerable", True) and r.get("evidence")]
    if not scored:
        return None
    hits = 0
    for r in scored:
        texts = [norm(h.chunk.text) for h in retriever.search(r["question"], k, **kw).hits]
        hits += any(norm(e) in t for e in r["evidence"] for t in texts)
    return round(hits / len(scored), 4)


def bench_seeds(bench: Bench, stock: Stock | None) -> dict[str, Any]:
    """Stages on the configured corpus (the seeds), with the baselines interleaved."""
    from rag.store.faiss_store import bare_flat_index

    cfg = seed_config(bench, "seeds-index")
    out: dict[str, Any] = {}
    embedder = _load_encoder(cfg, out)
    index, retriever, bot = _build_seeds(cfg, embedder, out)

    rows = dev_questions(cfg)
    questions = [r["question"] for r in rows] or [
        "How many hotline calls did the border guards make?"
    ]
    qs = cycle(questions, bench.queries)

    floor = bare_flat_index(index.store.all_vectors())
    if stock is not None:
        stock.build(
            [f"{c.doc_title}\n{c.text}" for c in index.chunks], [c.chunk_id for c in index.chunks]
        )
    run = _SeedRun(cfg, embedder, retriever, bot, floor, stock)
    for q in questions[:WARMUP]:
        run.ours(q, False)
        run.theirs(q, False)
    # The steady state the app reaches (its background prefetch): every indexed sentence
    # embedded, so the answer series times answering, not a first sentence embedding.
    out["sentences_prefetched"] = bot.prefetch_sentences()
    for i, q in enumerate(qs):  # interleaved, alternating who goes first
        first, second = (run.ours, run.theirs) if i % 2 == 0 else (run.theirs, run.ours)
        first(q, True)
        second(q, True)
    for q in qs[:UNCACHED_ANSWERS]:  # after the others: each one empties the caches
        run.uncached(q)

    out.update(_seed_stage_stats(run.series, run.stock_series if stock is not None else None))
    out["queries"] = len(qs)
    out["recall_at_5"] = _seed_recall(bench, rows, retriever)
    return out


def _load_encoder(cfg: Config, out: dict[str, Any]) -> Any:
    """The configured encoder, warmed up; its load time and backend go into ``out``."""
    from rag.embed.encoder import Embedder

    t0 = time.perf_counter()
    embedder = Embedder(cfg.embedding_model, batch_size=cfg.embed_batch_size)
    embedder.encode_query("warm-up")
    out["model_load_s"] = round(time.perf_counter() - t0, 3)
    out["encoder"] = {
        "backend": embedder.backend,
        "note": embedder.backend_note,
        "onnx_file": str(embedder._onnx.model_file) if embedder._onnx else None,
    }
    log(f"encoder: {embedder.backend} (loaded in {out['model_load_s']:.1f} s)")
    return embedder


def _build_seeds(cfg: Config, embedder: Any, out: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Index the seeds (build time and size go into ``out``); the index, a retriever and an
    assistant over it."""
    from rag.answer.assistant import Assistant
    from rag.retrieve.components import Components
    from rag.retrieve.retriever import Retriever
    from rag.store.build import build_index
    from rag.store.index import load_index

    report = build_index(cfg, embedder, rebuild=True, progress=False)
    index = load_index(cfg)
    out["corpus"] = {"documents": report.documents, "chunks": report.chunks}
    out["build"] = {
        "seconds": round(report.seconds, 3),
        "chunks_per_s": round(report.chunks / max(report.seconds, 1e-9), 1),
        "index_bytes": disk_bytes(cfg.index_path),
        "files": {k: v for k, v in index.manifest.get("sizes", {}).items()},
        "index_type": index.store.kind,
    }
    parts = Components(cfg, embedder, index, Retriever(index, embedder, cfg))
    return index, parts.retriever, Assistant(parts)


class _SeedRun:
    """One query through our pipeline and through the stock one, timed stage by stage."""

    def __init__(
        self,
        cfg: Config,
        embedder: Any,
        retriever: Any,
        bot: Any,
        floor: Any,
        stock: Stock | None,
    ) -> None:
        from rag.embed.encoder import Embedder

        self.cfg, self.embedder, self.retriever = cfg, embedder, retriever
        self.bot, self.floor, self.stock = bot, floor, stock
        self.series: dict[str, list[float]] = {s: [] for s in SEED_STAGES}
        self.series["embed_cached"] = []
        self.series["answer_uncached"] = []
        # The other ONNX encoders' query embedding, timed beside ours (series embed_int8,
        # embed_qdq): their speed next to their recall (``_seed_recall``).
        self.alternatives: dict[str, Any] = {}
        for backend in ALTERNATIVE_ENCODERS:
            if backend == embedder.backend or embedder.backend == "torch":
                continue
            alt = Embedder(cfg.embedding_model, backend=backend)
            try:
                alt.encode_query("warm-up")
            except RagError:
                continue
            self.alternatives[backend] = alt
            self.series[_alt_series(backend)] = []
        self.series["floor_dense"] = []
        self.stock_series: dict[str, list[float]] = {
            s: [] for s in ("embed", "dense", "retrieve", "answer")
        }

    def ours(self, q: str, record: bool) -> None:
        from rag.answer.extractive import clear_question_caches

        series, embedder = self.series, self.embedder
        for backend, alt in self.alternatives.items():
            alt.clear_cache()
            _, e8 = timed(lambda alt=alt: alt.encode_query(q))
            if record:
                series[_alt_series(backend)].append(e8)
        embedder.clear_cache(texts=False)  # measure real query encoding, not the cache
        res = self.retriever.search(q)
        _, cached = timed(lambda: embedder.encode_query(q))
        # The floor right after a fresh query embedding, as the retriever's dense search
        # is: on a busy machine the first call after a CPU burst pays for preemption.
        embedder.clear_cache(texts=False)
        qvec = embedder.encode_query(q)[None, :]
        _, fl = timed(lambda: self.floor.search(qvec, self.cfg.candidates))
        embedder.clear_cache(texts=False)  # sentence cache stays warm: steady state
        clear_question_caches()  # the questions recur here; a user's next one is new
        ans = self.bot.ask(q)
        if record:
            t = res.timings_ms
            for s in ("embed", "dense", "bm25", "fusion"):
                series[s].append(t[s])
            series["retrieve"].append(t["total"])
            series["embed_cached"].append(cached)
            series["floor_dense"].append(fl)
            a = ans.timings_ms
            series["generate"].append(a.get("generate", 0.0))
            series["verify"].append(a.get("verify", 0.0))
            series["answer"].append(a["total"])
            series["after_retrieve"].append(a["total"] - a["retrieve"] - a.get("condense", 0.0))

    def uncached(self, q: str) -> None:
        """One answer with every cache cold (the first time this question and its
        passages' sentences are seen): timed apart, as it empties the sentence cache."""
        from rag.answer.extractive import clear_question_caches

        self.embedder.clear_cache()
        clear_question_caches()
        self.series["answer_uncached"].append(self.bot.ask(q).timings_ms["total"])

    def theirs(self, q: str, record: bool) -> None:
        stock = self.stock
        if stock is None:
            return
        qvec, e = timed(lambda: stock.embed(q))
        _, d = timed(lambda: stock.dense(qvec))
        _, r = timed(lambda: stock.retrieve(q))
        _, a = timed(lambda: stock.answer(q))
        if record:
            for name, v in (("embed", e), ("dense", d), ("retrieve", r), ("answer", a)):
                self.stock_series[name].append(v)


def _seed_stage_stats(
    series: dict[str, list[float]], st: dict[str, list[float]] | None
) -> dict[str, Any]:
    """Percentiles of every stage, ours and stock's, and their ratios (``st``: None, no stock)."""
    out: dict[str, Any] = {"stages_ms": {k: stats(v) for k, v in series.items() if v}}
    out["stages_ms"]["rerank"] = None  # no reranker in this pipeline
    out["stock_ms"] = {k: stats(v) for k, v in st.items()} if st is not None else None
    if st is not None:
        out["stock_ms"]["note"] = (
            "LlamaIndex VectorStoreIndex + FaissVectorStore(IndexFlatL2) + HuggingFaceEmbedding "
            "(PyTorch), dense only; answer = as_query_engine().query() with Settings.llm=None "
            "(MockLLM: retrieval + prompt assembly, no generation)"
        )
    ours_p50 = {k: v["p50"] for k, v in out["stages_ms"].items() if v}
    out["ratios_vs_stock"] = (
        {k: ratio(ours_p50.get(k), out["stock_ms"][k]["p50"]) for k in st}
        if st is not None
        else None
    )
    out["ratio_dense_vs_floor"] = ratio(ours_p50["dense"], ours_p50["floor_dense"])
    return out


def _seed_recall(bench: Bench, rows: list[dict[str, Any]], retriever: Any) -> dict[str, Any]:
    """recall@5 and @1 (hybrid, dense only) with the encoder in use, PyTorch and int8 ONNX.

    Each alternative encoder gets its own index of the seeds (documents and queries
    embedded by the same encoder). ``drop_points``: PyTorch's recall minus each other
    encoder's, in points (positive = worse than PyTorch).
    """
    from rag.embed.encoder import Embedder
    from rag.retrieve.retriever import Retriever
    from rag.store.build import build_index
    from rag.store.index import load_index

    def measure(r: Any) -> dict[str, float | None]:
        return {
            "hybrid": _recall_at_k(r, rows, 5),
            "dense": _recall_at_k(r, rows, 5, hybrid=False),
            "hybrid@1": _recall_at_k(r, rows, 1),
            "dense@1": _recall_at_k(r, rows, 1, hybrid=False),
        }

    backend = retriever.embedder.backend
    out: dict[str, Any] = {backend: measure(retriever)}
    if not env_flag("RAG_BENCH_RECALL"):
        return out
    for other in ("torch", "onnx", *ALTERNATIVE_ENCODERS):
        if other in out:
            continue
        cfg = seed_config(bench, f"seeds-index-{other}")
        try:
            emb = Embedder(cfg.embedding_model, batch_size=cfg.embed_batch_size, backend=other)
            build_index(cfg, emb, rebuild=True, progress=False)
        except RagError as exc:
            out[other] = {"error": str(exc)[:200]}
            continue
        out[other] = measure(Retriever(load_index(cfg), emb, cfg))
    if "hybrid" in out.get("torch", {}):
        out["drop_points"] = {
            b: {
                m: round(100 * (out["torch"][m] - v[m]), 2)
                for m in v
                if out["torch"].get(m) is not None and v[m] is not None
            }
            for b, v in out.items()
            if b != "torch" and "hybrid" in v
        }
    return out


def bench_ingest(bench: Bench, stock: Stock | None) -> dict[str, Any]:
    """Ingest throughput: `build_index` over a synthetic corpus (embedding included)."""
    from rag.bench.synthetic import SyntheticCorpus
    from rag.embed.encoder import Embedder
    from rag.store.build import build_index
    from rag.store.index import embed_text, load_index

    n = env_int("RAG_BENCH_INGEST_CHUNKS", 400)
    corpus = SyntheticCorpus(n, seed=SEED, corpus_dir=bench.config.corpus_path)
    folder = bench.work / "ingest-corpus"
    shutil.rmtree(folder, ignore_errors=True)
    corpus.write(folder)
    out: dict[str, Any] = {}
    chunks: list[Any] = []
    for backend in (None, *ALTERNATIVE_ENCODERS):
        cfg = bench.config.replace(
            corpus_dir=folder, index_dir=bench.work / f"ingest-index-{backend or 'default'}"
        )
        embedder = Embedder(cfg.embedding_model, batch_size=cfg.embed_batch_size, backend=backend)
        try:
            embedder.encode_documents(["warm-up"])
        except RagError as exc:
            out[_alt_key(backend)] = {"error": str(exc)[:200]}
            continue
        if backend is not None and embedder.backend == out.get("encoder"):
            continue
        cpu0 = time.process_time()
        report = build_index(cfg, embedder, rebuild=True, progress=False)
        cpu = time.process_time() - cpu0
        res = {
            "chunks": report.chunks,
            "seconds": round(report.seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "chunks_per_s": round(report.chunks / max(report.seconds, 1e-9), 1),
            "chunks_per_cpu_s": round(report.chunks / max(cpu, 1e-9), 1),
            "index_bytes": disk_bytes(cfg.index_path),
            "encoder": embedder.backend,
        }
        if backend is None:
            chunks = list(load_index(cfg).chunks)
            res["mean_chunk_chars"] = round(float(np.mean([len(c.text) for c in chunks])), 1)
            out.update(res)
        else:
            out[_alt_key(backend)] = res
    if stock is not None:
        m = min(len(chunks), env_int("RAG_BENCH_STOCK_INGEST_CHUNKS", 100))
        texts = [embed_text(c, cfg.embed_title) for c in chunks[:m]]
        secs = stock.build(texts, [c.chunk_id for c in chunks[:m]])
        out["stock"] = {"chunks": m, "seconds": round(secs, 3), "chunks_per_s": round(m / secs, 1)}
        out["ratio_throughput_ours_over_stock"] = ratio(
            out["chunks_per_s"], out["stock"]["chunks_per_s"]
        )
    return out


def bench_cold_start(bench: Bench, question: str) -> dict[str, Any] | None:
    """Process start to first answer: ``python -m rag ask`` with the seed index present."""
    if not env_flag("RAG_BENCH_COLD_START"):
        return None
    runs = max(1, env_int("RAG_BENCH_COLD_RUNS", 3))
    cfg = seed_config(bench, "seeds-index")
    rag_args = [
        "ask",
        question,
        "--root",
        str(cfg.root.resolve()),
        "--corpus-dir",
        str(cfg.corpus_path.resolve()),
        "--index-dir",
        str(cfg.index_path.resolve()),
        "--no-auto-index",
        *(["--store", "milvus"] if cfg.store == "milvus" else []),
    ]
    # `python -m rag ask ...`, plus a line with the child's own peak RSS on exit: VmHWM of
    # its own memory map (ru_maxrss would count the forked copy of the benchmark).
    probe = (
        "import atexit, re, runpy, sys\n"
        "atexit.register(lambda: sys.stderr.write('\\nRAG_BENCH_MAXRSS_KB=%s\\n' % "
        "re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))\n"
        f"sys.argv = ['rag', *{rag_args!r}]\n"
        "runpy.run_module('rag', run_name='__main__', alter_sys=True)\n"
    )
    cmd = [sys.executable, "-c", probe]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if cfg.store == "milvus":
        from rag.store.milvus_store import release_local

        env.update(RAG_MILVUS_URI=cfg.milvus_uri, RAG_LEXICAL=cfg.lexical)
        release_local(cfg.milvus_uri)  # a Milvus Lite file opens in one process at a time
    times, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip()[-400:], "command": "python -m rag ask"}
        kb = [ln for ln in proc.stderr.splitlines() if ln.startswith("RAG_BENCH_MAXRSS_KB=")]
        rss.append(int(kb[-1].split("=")[1]) / 1024 if kb else float("nan"))
    return {
        "seconds": stats(times),
        "peak_rss_mb": round(max(rss), 1),
        "runs": runs,
        "command": "python -m rag ask <question> (index present, encoder cache warm)",
        "answer_head": proc.stdout.strip().splitlines()[0][:120] if proc.stdout.strip() else "",
    }
