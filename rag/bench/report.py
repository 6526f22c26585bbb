"""The report as Markdown (``bench.md``) and as a plain-text table for the terminal."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rag.bench.llm import llm_markdown
from rag.bench.measure import ratio
from rag.bench.plan import EXTRA_STAGES
from rag.bench.updates import updates_markdown, updates_row


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if not np.isfinite(v):
            return "–"
        return f"{v:,.{nd}f}"
    return str(v)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    meta = report["meta"]
    lines = [
        "# rag bench",
        "",
        f"{meta['started_at']} · {meta['machine'].get('cpu_model') or '?'} "
        f"({', '.join(meta['machine'].get('cpu_flags') or []) or 'no AVX2'}) · "
        f"{meta['machine']['cpus']} CPUs · load average at start "
        f"{meta['machine']['load_start']}, at end {meta['machine']['load_end']} · "
        f"encoder {meta.get('encoder', '?')} · {meta['queries']} queries per measurement",
        "",
    ]
    seeds = report.get("seeds")
    if seeds:
        lines += _seed_stages_markdown(seeds)
        lines += _seed_notes_markdown(seeds, report)
        lines += _encoders_markdown(seeds, report.get("ingest") or {})
        lines += llm_markdown(report.get("llm"))
    for sc in report.get("scales", []):
        lines += _scale_table_markdown(sc)
        lines += _scale_notes_markdown(sc)
        lines += _milvus_markdown(sc)
        lines += updates_markdown(sc)
    lines += _targets_markdown(report)
    return "\n".join(lines)


def _seed_stages_markdown(seeds: dict[str, Any]) -> list[str]:
    """The seeds' stage table: ours and the stock pipeline's p50/p95 side by side."""
    c = seeds["corpus"]
    lines = [
        f"## Seeds ({c['documents']} documents, {c['chunks']} chunks)",
        "",
        "| stage | ours p50 ms | ours p95 ms | stock p50 ms | stock p95 ms | ours/stock |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    stock = seeds.get("stock_ms") or {}
    ratios = seeds.get("ratios_vs_stock") or {}
    for s in (*EXTRA_STAGES, "rerank"):
        if s not in seeds["stages_ms"]:
            continue
        v = seeds["stages_ms"][s]
        if v is None:
            lines.append(f"| {s} | – | – | – | – | – (no reranker) |")
            continue
        sv = stock.get(s) if isinstance(stock.get(s), dict) else None
        lines.append(
            f"| {s} | {_fmt(v['p50'])} | {_fmt(v['p95'])} | {_fmt(sv and sv['p50'])} | "
            f"{_fmt(sv and sv['p95'])} | {_fmt(ratios.get(s), 3)} |"
        )
    return lines


def _seed_notes_markdown(seeds: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """The seeds' bullets: build, ingest, floor, cold start, recall, peak RSS."""
    b = seeds["build"]
    cold = seeds.get("cold_start") or {}
    rec = seeds.get("recall_at_5") or {}
    return [
        "",
        f"- build: {b['seconds']:.2f} s, index on disk {b['index_bytes']:,} bytes ({b['index_type']})",
        _ingest_markdown(report.get("ingest") or {}),
        f"- dense search vs bare IndexFlatIP: x{_fmt(seeds.get('ratio_dense_vs_floor'), 3)}",
        f"- cold start: {_fmt((cold.get('seconds') or {}).get('p50'))} s p50 "
        f"(peak RSS {_fmt(cold.get('peak_rss_mb'), 1)} MiB)"
        if "seconds" in cold
        else f"- cold start: {cold.get('error', 'not measured')}",
        f"- recall@5 on the dev set: {json.dumps(rec)}",
        f"- benchmark process peak RSS: {_fmt(report['meta'].get('peak_rss_mb'), 1)} MiB",
        "",
    ]


# Each encoder's query-embedding series in the seeds' stages and its ingest entry.
_ENCODER_SERIES = {"onnx-int8": ("embed_int8", "int8"), "onnx-qdq": ("embed_qdq", "qdq")}


def encoder_rows(seeds: dict[str, Any], ing: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per encoder measured in the run: query embedding p50 (and its ratio to
    the default encoder's, timed interleaved), recall@5 and @1 on the dev set (its own
    index), the drop in points from PyTorch's, and ingest throughput."""
    recall = seeds.get("recall_at_5") or {}
    default = (seeds.get("encoder") or {}).get("backend")
    stages = seeds.get("stages_ms") or {}
    base = (stages.get("embed") or {}).get("p50")
    rows = []
    for backend, rec in recall.items():
        if backend == "drop_points" or not isinstance(rec, dict):
            continue
        series, key = (
            ("embed", None) if backend == default else _ENCODER_SERIES.get(backend, ("", ""))
        )
        p50 = (stages.get(series) or {}).get("p50") if series else None
        inge = ing if key is None else (ing.get(key) or {})
        rows.append(
            {
                "encoder": backend + (" (default)" if backend == default else ""),
                "query_p50_ms": p50,
                "query_vs_default": ratio(p50, base) if p50 is not None else None,
                "recall5_hybrid": rec.get("hybrid"),
                "recall5_dense": rec.get("dense"),
                "recall1_hybrid": rec.get("hybrid@1"),
                "drop_points_hybrid": ((recall.get("drop_points") or {}).get(backend) or {}).get(
                    "hybrid"
                ),
                "ingest_chunks_per_s": inge.get("chunks_per_s") if backend != "torch" else None,
                "ingest_chunks_per_cpu_s": inge.get("chunks_per_cpu_s")
                if backend != "torch"
                else None,
                "error": rec.get("error"),
            }
        )
    return rows


def _encoders_markdown(seeds: dict[str, Any], ing: dict[str, Any]) -> list[str]:
    """Each encoder's speed next to its recall, so that the choice of default is visible."""
    rows = encoder_rows(seeds, ing)
    if not rows:
        return []
    lines = [
        "### Encoders: speed next to recall (dev set, each encoder with its own index)",
        "",
        "| encoder | query embed p50 ms | vs default | recall@5 hybrid | recall@5 dense "
        "| recall@1 hybrid | drop vs torch (points) | ingest chunks/s | per CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["error"]:
            lines.append(f"| {r['encoder']} | {r['error'][:80]} ||||||||")
            continue
        lines.append(
            f"| {r['encoder']} | {_fmt(r['query_p50_ms'])} | {_fmt(r['query_vs_default'], 3)} | "
            f"{_fmt(r['recall5_hybrid'], 4)} | {_fmt(r['recall5_dense'], 4)} | "
            f"{_fmt(r['recall1_hybrid'], 4)} | {_fmt(r['drop_points_hybrid'])} | "
            f"{_fmt(r['ingest_chunks_per_s'], 1)} | {_fmt(r['ingest_chunks_per_cpu_s'], 1)} |"
        )
    return [*lines, ""]


def _ingest_markdown(ing: dict[str, Any]) -> str:
    """The ingest bullet: ours, the opt-in int8 encoder's and the stock pipeline's throughput."""
    return (
        f"- ingest ({ing.get('chunks')} synthetic chunks, mean {ing.get('mean_chunk_chars')} chars, "
        f"embedding included, encoder {ing.get('encoder')}): "
        f"{_fmt(ing.get('chunks_per_s'), 1)} chunks/s "
        f"({_fmt(ing.get('chunks_per_cpu_s'), 1)} per CPU-second)"
        + (
            f"; opt-in onnx-int8 {ing['int8']['chunks_per_s']:.1f} chunks/s "
            f"({ing['int8']['chunks_per_cpu_s']:.1f} per CPU-second)"
            if (ing.get("int8") or {}).get("chunks_per_s")
            else ""
        )
        + (
            f"; stock {ing['stock']['chunks_per_s']:.1f} chunks/s "
            f"(ours/stock x{_fmt(ing.get('ratio_throughput_ours_over_stock'))})"
            if ing.get("stock")
            else ""
        )
    )


def _retrieval_cells(r: dict[str, Any]) -> str:
    """Retrieval p50, p95 and the p50 of each of its stages, as table cells."""
    return (
        f"{_fmt(r['total']['p50'])} | {_fmt(r['total']['p95'])} | {_fmt(r['embed']['p50'])} | "
        f"{_fmt(r['dense']['p50'])} | {_fmt(r['bm25']['p50'])} | {_fmt(r['fusion']['p50'])} |"
    )


def _scale_table_markdown(sc: dict[str, Any]) -> list[str]:
    """One scale's index table: each kind, each operating point, and the floor."""
    lines = [
        f"## {sc['chunks']:,} synthetic chunks",
        "",
        f"Vectors: {sc['vectors']}.",
        "",
        "| index | build s | size MB | load ms | search p50 ms | p95 ms | recall@10 "
        "| retrieval p50 ms | p95 ms | embed | dense | bm25 | fusion |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, v in sc["indexes"].items():
        lines.append(
            f"| {kind} {json.dumps(v.get('params', {}))} | {v['build_s']:.1f} | "
            f"{v['bytes'] / 1e6:.1f} | {v['load_ms']:.1f} | {_fmt(v['search_ms']['p50'], 3)} | "
            f"{_fmt(v['search_ms']['p95'], 3)} | {v['recall_at_10']:.3f} | "
            + _retrieval_cells(v["retrieval_ms"])
        )
    for kind, v in sc["indexes"].items():
        if v.get("retrieval_ms_at_operating_point"):
            op = v["operating_point"]
            key = "efSearch" if kind == "hnsw" else "nprobe"
            lines.append(
                f"| {kind} at {key}={op[key]} | – | – | – | {_fmt(op['p50'], 3)} | – | "
                f"{op['recall']:.3f} | " + _retrieval_cells(v["retrieval_ms_at_operating_point"])
            )
    lines.append(
        f"| floor (bare IndexFlatIP) | – | – | – | {_fmt(sc['floor_ms']['p50'], 3)} | "
        f"{_fmt(sc['floor_ms']['p95'], 3)} | 1.000 | – | – | – | – | – | – |"
    )
    return lines


def _scale_notes_markdown(sc: dict[str, Any]) -> list[str]:
    """One scale's bullets: BM25, embedding, the sweeps, the stock pipeline, RSS."""
    bm = sc["bm25"]
    lines = [
        "",
        f"- BM25: build {bm['build_s']:.1f} s, {bm['bytes'] / 1e6:.1f} MB, "
        f"search p50 {_fmt(bm['search_ms']['p50'])} ms / p95 {_fmt(bm['search_ms']['p95'])} ms, "
        f"vocabulary {bm['vocabulary']:,}",
    ]
    if sc.get("embed"):
        e = sc["embed"]
        lines.append(f"- embedding {e['chunks']:,} chunks: {e['chunks_per_s']:.1f} chunks/s")
    for kind, v in sc["indexes"].items():
        if v.get("sweep"):
            key = "efSearch" if kind == "hnsw" else "nprobe"
            cells = ", ".join(
                f"{row[key]}: {row['p50']:.3f} ms / {row['recall']:.3f}" for row in v["sweep"]
            )
            lines.append(f"- {kind} sweep ({key}: p50 / recall@10): {cells}")
    st = sc.get("stock")
    if st and "skipped" not in st:
        flat = sc["indexes"]["flat"]["retrieval_ms"]["total"]["p50"]
        lines.append(
            f"- stock LlamaIndex: build {st['build_s']:.1f} s (vectors given), embed p50 "
            f"{_fmt(st['embed_ms']['p50'])} ms, dense p50 {_fmt(st['dense_ms']['p50'])} ms, "
            f"retrieve p50 {_fmt(st['retrieve_ms']['p50'])} ms (ours flat hybrid / stock: "
            f"x{_fmt(ratio(flat, st['retrieve_ms']['p50']), 3)})"
        )
    elif st:
        lines.append(f"- stock LlamaIndex: skipped ({st['skipped']})")
    return [*lines, f"- RSS MiB: {json.dumps(sc['rss_mb'])}", ""]


def _targets_markdown(report: dict[str, Any]) -> list[str]:
    """The targets table (the last section)."""
    lines = [
        "## Targets",
        "",
        "| target | goal | measured | met | note |",
        "|---|---|---|---|---|",
    ]
    for t in report.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        m = t["measured"]
        m = json.dumps(m) if isinstance(m, dict) else _fmt(m, 3)
        lines.append(f"| {t['target']} | {t['goal']} | {m} | {met} | {t['note']} |")
    lines.append("")
    return lines


def _p50(series: dict[str, Any] | None) -> float | None:
    return (series or {}).get("total", {}).get("p50")


def _milvus_markdown(sc: dict[str, Any]) -> list[str]:
    """The Milvus rows of one scale, next to the FAISS flat row measured in the same run."""
    milvus = (sc.get("milvus") or {}).get("indexes")
    if not milvus:
        return []
    flat = sc["indexes"]["flat"]
    lines = [
        f"### Milvus at {sc['chunks']:,} chunks ({sc['milvus']['where']}; same vectors and "
        "queries)",
        "",
        "| store | insert s | rows/s | dense p50 ms | recall@10 | retrieval p50 ms "
        "(bm25s) | p95 | retrieval p50 ms (Milvus BM25) | lexical p50 ms | top-1 lexical "
        "agreement |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| FAISS flat | {flat['build_s']:.1f} | – | {_fmt(flat['search_ms']['p50'], 3)} | "
        f"{flat['recall_at_10']:.3f} | {_fmt(flat['retrieval_ms']['total']['p50'])} | "
        f"{_fmt(flat['retrieval_ms']['total']['p95'])} | – | "
        f"{_fmt(sc['bm25']['search_ms']['p50'])} (bm25s) | – |",
    ]
    notes = []
    for v in milvus.values():
        r = v["retrieval_ms"]["total"]
        rm = (v.get("retrieval_ms_milvus_bm25") or {}).get("total", {})
        lines.append(
            f"| Milvus {v['index_type']} | {v['build_s']:.1f} | {v['insert_rows_s']:.0f} | "
            f"{_fmt(v['search_ms']['p50'], 3)} | {v['recall_at_10']:.3f} | {_fmt(r['p50'])} | "
            f"{_fmt(r['p95'])} | {_fmt(rm.get('p50'))} | "
            f"{_fmt((v.get('milvus_bm25_ms') or {}).get('p50'))} | "
            f"{_fmt(v.get('bm25_top1_agreement'), 3)} |"
        )
        if v.get("milvus_bm25"):
            notes.append(f"- Milvus BM25 ({v['index_type']}): {v['milvus_bm25']}")
    return [*lines, "", *notes, *([""] if notes else [])]


def render_table(report: dict[str, Any]) -> str:
    """A compact plain-text table for the terminal."""
    rows = [f"{'stage':<14}{'p50 ms':>10}{'p95 ms':>10}{'stock p50':>11}{'ours/stock':>12}"]
    seeds = report.get("seeds")
    if seeds:
        stock = seeds.get("stock_ms") or {}
        ratios = seeds.get("ratios_vs_stock") or {}
        for s in EXTRA_STAGES:
            v = seeds["stages_ms"].get(s)
            if not v:
                continue
            sv = stock.get(s) if isinstance(stock.get(s), dict) else None
            rows.append(
                f"{s:<14}{_fmt(v['p50']):>10}{_fmt(v['p95']):>10}"
                f"{_fmt(sv and sv['p50']):>11}{_fmt(ratios.get(s), 3):>12}"
            )
        rows.append("-- encoders (query p50 ms, vs default, recall@5 hybrid, ingest chunks/s)")
        for r in encoder_rows(seeds, report.get("ingest") or {}):
            rows.append(
                f"{r['encoder']:<20}{_fmt(r['query_p50_ms']):>8}{_fmt(r['query_vs_default'], 3):>8}"
                f"{_fmt(r['recall5_hybrid'], 4):>9}{_fmt(r['ingest_chunks_per_s'], 1):>9}"
            )
    for sc in report.get("scales", []):
        rows.append(f"-- {sc['chunks']:,} chunks ({sc['vectors_mode']} vectors)")
        for kind, v in sc["indexes"].items():
            rows.append(
                f"{kind:<6} search p50 {v['search_ms']['p50']:8.3f} ms  recall@10 "
                f"{v['recall_at_10']:.3f}  retrieval p50 {v['retrieval_ms']['total']['p50']:7.2f} ms"
                f"  build {v['build_s']:.1f} s"
            )
        for kind, v in (sc.get("milvus") or {}).get("indexes", {}).items():
            rows.append(
                f"milvus {kind:<5} search p50 {v['search_ms']['p50']:8.3f} ms  recall@10 "
                f"{v['recall_at_10']:.3f}  retrieval p50 {v['retrieval_ms']['total']['p50']:7.2f} ms"
                f" (Milvus BM25 {_fmt(_p50(v.get('retrieval_ms_milvus_bm25')))} ms)"
                f"  insert {v['build_s']:.1f} s"
            )
        if updates_row(sc):
            rows.append(updates_row(sc) or "")
        rows.append(
            f"floor  search p50 {sc['floor_ms']['p50']:8.3f} ms; bm25 p50 "
            f"{sc['bm25']['search_ms']['p50']:.2f} ms (build {sc['bm25']['build_s']:.1f} s)"
        )
    rows.append("-- targets")
    for t in report.get("targets", []):
        met = {True: "met", False: "NOT MET", None: "n/a"}[t["met"]]
        m = t["measured"]
        m = "see report" if isinstance(m, dict) else _fmt(m, 3)
        rows.append(f"[{met:^7}] {t['target']}: {m} (goal {t['goal']})")
    return "\n".join(rows)
