"""Measuring: timings and their percentiles, memory, disk size, environment knobs, and the
dense-search and retrieval series shared by the FAISS and Milvus runs."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.plan import WARMUP
from rag.config import Config


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def stats(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and count of milliseconds (or any numbers)."""
    if not len(values):
        return {"p50": float("nan"), "p95": float("nan"), "mean": float("nan"), "n": 0}
    a = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(a, 50)), 4),
        "p95": round(float(np.percentile(a, 95)), 4),
        "mean": round(float(a.mean()), 4),
        "n": len(a),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b <= 0:
        return None
    return round(a / b, 3)


def env_flag(name: str, default: bool = True) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() not in {"0", "false", "no", "off"}


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def rss_mb() -> float:
    """Current resident set size of this process, MiB."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError):
        return float("nan")


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def disk_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence libraries that print to stdout (LlamaIndex's MockLLM notice)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1000


def search_series(store: Any, qv: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    times, ids = [], []
    for i in range(len(qv)):
        (_, found), ms = timed(lambda i=i: store.search(qv[i : i + 1], k))
        times.append(ms)
        ids.append(found[0])
    return times, np.vstack(ids)


def recall_vs_exact(truth: np.ndarray, got: np.ndarray, k: int) -> float:
    return round(
        float(np.mean([len(set(t[:k]) & set(g[:k])) / k for t, g in zip(truth, got, strict=True)])),
        4,
    )


def retrieval_series(
    index: Any, embedder: Any, cfg: Config, queries: Sequence[str]
) -> dict[str, Any]:
    """Hybrid retrieval stages through the real Retriever (query embedding uncached)."""
    from rag.retrieve.retriever import Retriever

    retriever = Retriever(index, embedder, cfg)
    for q in queries[:WARMUP]:
        retriever.search(q)
    series: dict[str, list[float]] = {s: [] for s in ("embed", "dense", "bm25", "fusion", "total")}
    for q in queries:
        embedder.clear_cache()
        t = retriever.search(q).timings_ms
        for s in series:
            series[s].append(t[s])
    return {s: stats(v) for s, v in series.items()}
