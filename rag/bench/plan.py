"""What a run measures: sizes and vector sources, sweeps, the targets and floors of the
issue, the dev questions, and the run's working folders (:class:`Bench`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.errors import RagError

if TYPE_CHECKING:
    import numpy as np

REAL_MAX = 10_000  # sizes up to this embed every chunk by default
POOL = 2_000  # real embeddings behind derived vectors
DERIVED_NOISE = 0.5
RECALL_K = 10
HNSW_EF_SWEEP = (16, 32, 64, 128, 256, 512)
IVF_NPROBE_SWEEP = (4, 8, 16, 32, 64, 128, 256)
WARMUP = 5
UNCACHED_ANSWERS = 20  # answers measured with every cache cold (each costs ~0.1-0.3 s)
SEED = 1234
SEED_STAGES = (
    *("embed", "dense", "bm25", "fusion", "retrieve", "generate", "verify", "answer"),
    "after_retrieve",  # answer minus retrieval: scoring, gate, verification, many-article checks
)
# Also reported: answer with every cache cold, a cached query embedding, the int8
# encoder's query embedding, and the bare-FAISS floor of the dense search.
EXTRA_STAGES = (
    *SEED_STAGES,
    *("answer_uncached", "embed_cached", "embed_int8", "embed_qdq", "floor_dense"),
)

# Targets from the issue (2-core machine, model loaded).
TARGETS = {
    "retrieve_seeds_ms": 10.0,
    "retrieve_100k_ms": 15.0,
    "ingest_chunks_s": 100.0,
    "ann_1m_ms": 2.0,
    "ann_recall": 0.95,
    "answer_seeds_ms": 60.0,
    "answer_after_retrieval_ms": 6.0,  # issue 17: the extractive answer once passages are found
    "cold_start_s": 5.0,
    "retrieval_speedup": 2.0,
    "recall_drop_points": 1.0,
}
# Floors measured on the reference machine before this work (see the issue).
FLOORS = {
    "torch_query_embed_ms": 16.0,
    "torch_ingest_chunks_s": 39.0,
    "exact_faiss_100k_ms": 18.0,
    "exact_faiss_1m_ms": 124.0,
    "stock_retrieve_seeds_ms": 26.0,
}


@dataclass
class Scale:
    n: int
    vectors: str  # real | derived | random


def parse_scales(spec: str | None) -> list[Scale]:
    """``"10000,100000:random"`` -> sizes with their vector source."""
    if not spec:
        return []
    out = []
    for part in spec.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        size, _, kind = part.partition(":")
        mult = 1
        if size.endswith("k"):
            size, mult = size[:-1], 1_000
        elif size.endswith("m"):
            size, mult = size[:-1], 1_000_000
        try:
            n = int(float(size) * mult)
        except ValueError:
            raise RagError(f"--scale: {part!r} is not a number of chunks") from None
        if n < 100:
            raise RagError(f"--scale: {n} chunks is too few to measure (at least 100)")
        kind = kind or ("real" if n <= REAL_MAX else "derived")
        if kind not in {"real", "derived", "random"}:
            raise RagError(f"--scale: vectors must be real, derived or random, not {kind!r}")
        out.append(Scale(n, kind))
    return out


@dataclass
class Bench:
    config: Config
    queries: int
    out: Path
    work: Path
    scales: list[Scale] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def seed_config(bench: Bench, name: str, **changes: Any) -> Config:
    """The bench's own copy of an index (a Milvus store gets its own database file too)."""
    folder = bench.work / name
    if bench.config.store == "milvus" and "://" not in bench.config.milvus_uri:
        changes.setdefault("milvus_uri", str(folder / "milvus.db"))
    return bench.config.replace(index_dir=folder, **changes)


def dev_questions(config: Config) -> list[dict[str, Any]]:
    """The dev set's rows (eval/datasets/seeds_dev.jsonl), or [] when absent."""
    path = config.path(Path("eval/datasets/seeds_dev.jsonl"))
    if not path.exists():
        path = Path(__file__).resolve().parents[2] / "eval" / "datasets" / "seeds_dev.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def cycle(items: Sequence[str], n: int) -> list[str]:
    return [items[i % len(items)] for i in range(n)] if items else []


@dataclass
class ScaleCorpus:
    """One synthetic corpus and its queries, shared by the FAISS and Milvus runs."""

    docs: list[Any]
    rows: np.ndarray
    titled: list[str]
    vectors: np.ndarray
    queries: Sequence[str]
    qv: np.ndarray
    truth: np.ndarray  # exact top-10 rows per query (the bare-FAISS floor)
    bm25: Any
