"""``rag bench``: speed, memory and quality-at-speed of every stage, against baselines.

``rag bench`` measures the seeds; ``--scale 10000,100000,1000000`` adds deterministic
synthetic corpora. Each run prints a table and writes ``bench.json``, ``bench.md`` and
PNG plots to ``--out``.

What is measured (milliseconds, p50/p95 over ``--queries`` queries after warm-up):

* seeds: query embedding (uncached, and cache hit), dense search, BM25, fusion,
  retrieval (their sum), extractive answer (generate), verification, answer total;
  index build time and size, ingest throughput (chunks/s, embedding included, on a
  synthetic sample), cold start (``python -m rag ask`` in a subprocess), peak RSS;
  recall@5 on the dev set with the ONNX and the PyTorch encoder.
* baselines, interleaved query by query: a stock LlamaIndex pipeline
  (``VectorStoreIndex`` over ``FaissVectorStore``, ``HuggingFaceEmbedding`` of the same
  model, ``Settings.llm = None``) and a bare ``faiss.IndexFlatIP`` (the floor).
* scales: exact (flat), HNSW and IVF indexes: build time, size, search latency and
  recall@10 against exact search (a sweep of efSearch/nprobe shows the trade-off);
  BM25 build and query time; hybrid retrieval through :class:`~rag.retrieve.retriever.Retriever`.

A size may name its vectors: ``--scale 10000:real,100000:derived,1000000:random``.
``real`` embeds every chunk (default up to 10,000 chunks); ``derived`` (default above)
mixes real embeddings of 2,000 sampled chunks with noise (neighbourhoods like real text);
``random`` uses uniform unit vectors (no neighbourhood structure: the worst case for
approximate search).

Environment knobs (for quick runs and tests): ``RAG_BENCH_STOCK=0`` skips the
LlamaIndex baseline, ``RAG_BENCH_COLD_START=0`` the subprocess (``RAG_BENCH_COLD_RUNS``:
repetitions, default 3), ``RAG_BENCH_RECALL=0`` the recall comparison of encoders,
``RAG_BENCH_SEEDS=0`` the whole seeds part (a scale-only run);
``RAG_BENCH_INGEST_CHUNKS`` sets the ingest sample (default 400 synthetic chunks,
before re-chunking), ``RAG_BENCH_STOCK_INGEST_CHUNKS`` the stock's (default 100),
``RAG_BENCH_ANN`` the approximate kinds (default ``hnsw,ivf``), ``RAG_BENCH_STOCK_MAX``
the largest corpus for the stock baseline (default 100,000), ``RAG_BENCH_UPDATES`` the
one-document updates measured per scale with ``--store milvus`` (default 3; 0 skips them).

The modules: :mod:`~rag.bench.run` (a whole run, the CLI), :mod:`~rag.bench.seeds` (the
seed corpus against :mod:`~rag.bench.stock`, the LlamaIndex baseline),
:mod:`~rag.bench.scale` (synthetic scales on FAISS, :mod:`~rag.bench.synthetic` corpora),
:mod:`~rag.bench.milvus` (the same scales through Milvus), :mod:`~rag.bench.updates` (one
edited document on FAISS and on the shared Milvus index), :mod:`~rag.bench.targets`,
:mod:`~rag.bench.report` (Markdown, terminal table) and :mod:`~rag.bench.plots`; shared
:mod:`~rag.bench.plan` (sizes, targets, the run's folders) and :mod:`~rag.bench.measure`
(timings, percentiles, memory).
"""

from __future__ import annotations

from rag.bench.measure import stats
from rag.bench.plan import SEED_STAGES, Scale, parse_scales
from rag.bench.run import run_bench, run_cli

__all__ = ["SEED_STAGES", "Scale", "parse_scales", "run_bench", "run_cli", "stats"]
