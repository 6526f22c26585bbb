"""A whole run: seeds, scales, targets; ``bench.json``, ``bench.md`` and the plots."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.llm import bench_llm
from rag.bench.measure import env_flag, log, peak_rss_mb
from rag.bench.plan import FLOORS, TARGETS, WARMUP, Bench, Scale, dev_questions, parse_scales
from rag.bench.plots import write_plots
from rag.bench.report import render_markdown, render_table
from rag.bench.scale import bench_scale
from rag.bench.seeds import bench_cold_start, bench_ingest, bench_seeds
from rag.bench.stock import make_stock
from rag.bench.targets import evaluate_targets
from rag.config import Config

# The settings of the config that shape the figures, recorded in the report's meta.
REPORTED_CONFIG = frozenset(
    ("embedding_model", "chunk_size", "k", "candidates", "hybrid", "index_type")
    + ("approx_threshold", "hnsw_m", "hnsw_ef_search", "ivf_nlist", "ivf_nprobe")
)


def run_bench(
    config: Config, *, queries: int = 100, scales: Sequence[Scale] = (), out: Path
) -> dict[str, Any]:
    """Run the benchmark and write bench.json, bench.md and plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    bench = Bench(config, max(1, queries), out, work, list(scales))
    report: dict[str, Any] = {"meta": _meta(bench)}
    started = time.perf_counter()
    try:
        _measure(bench, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    report["meta"]["machine"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
    report["meta"]["peak_rss_mb"] = peak_rss_mb()
    report["targets"] = evaluate_targets(report)
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=_json_default), "utf-8")
    (out / "bench.md").write_text(render_markdown(report), "utf-8")
    report["meta"]["plots"] = write_plots(report, out)
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=_json_default), "utf-8")
    return report


def _meta(bench: Bench) -> dict[str, Any]:
    """When, on what machine, with which targets, floors and settings."""
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "queries": bench.queries,
        "warmup": WARMUP,
        "machine": {
            "cpus": os.cpu_count(),
            **_cpu(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_start": [round(x, 2) for x in os.getloadavg()],
        },
        "targets": TARGETS,
        "floors": FLOORS,
        "config": {k: v for k, v in bench.config.as_dict().items() if k in REPORTED_CONFIG},
    }


def _cpu() -> dict[str, Any]:
    """The CPU's model name and the vector instruction sets it has (Linux; {} elsewhere):
    figures from different CPUs are not comparable."""
    try:
        info = Path("/proc/cpuinfo").read_text("utf-8", "replace")
    except OSError:
        return {}
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in info.splitlines()) if v
    )
    flags = set(fields.get("flags", "").split())
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8")
    return {
        "cpu_model": fields.get("model name", ""),
        "cpu_flags": [f for f in wanted if f in flags],
    }


def _measure(bench: Bench, report: dict[str, Any]) -> None:
    """The seeds (stages, cold start, ingest) unless ``RAG_BENCH_SEEDS=0``, then each scale."""
    from rag.embed.encoder import Embedder

    config = bench.config
    stock = make_stock(config, config.k)
    embedder = Embedder(config.embedding_model, batch_size=config.embed_batch_size)
    report["meta"]["encoder"] = embedder.backend
    report["seeds"] = report["ingest"] = None
    if env_flag("RAG_BENCH_SEEDS"):
        log("seeds: stages, baselines, recall")
        report["seeds"] = bench_seeds(bench, stock)
        rows = dev_questions(config)
        q = rows[0]["question"] if rows else "How many hotline calls did the guards make?"
        log("cold start")
        report["seeds"]["cold_start"] = bench_cold_start(bench, q)
        log("ingest throughput")
        report["ingest"] = bench_ingest(bench, stock)
        report["llm"] = bench_llm(bench)  # opt-in: RAG_BENCH_LLM=1
    report["scales"] = []
    for scale in bench.scales:
        report["scales"].append(bench_scale(bench, scale, embedder, stock))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


def run_cli(args: argparse.Namespace, config: Config) -> int:
    """``rag bench``: run, print the table, write the report; 0 on success."""
    scales = parse_scales(getattr(args, "scale", None))
    out = Path(args.out)
    report = run_bench(config, queries=args.queries, scales=scales, out=out)
    print(render_table(report))
    print(
        f"\nwrote {out / 'bench.json'}, {out / 'bench.md'} and {len(report['meta']['plots'])} plots"
    )
    return 0
