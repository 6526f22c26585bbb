"""PNG plots: latency vs corpus size, ingest throughput, seed stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.plan import FLOORS, TARGETS


def write_plots(report: dict[str, Any], out: Path) -> list[str]:
    """PNG plots: latency vs corpus size per index type; ingest throughput; seed stages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = report.get("seeds") or {}
    scales = report.get("scales", [])
    plots = [
        ("latency_vs_size.png", (7, 4.5), lambda ax: _latency_vs_size(ax, seeds, scales)),
        ("ingest_throughput.png", (7, 4), lambda ax: _ingest_throughput(ax, report, scales)),
    ]
    if seeds:
        plots.append(("seed_stages.png", (7, 4), lambda ax: _seed_stages(ax, seeds)))
    files = []
    for name, size, draw in plots:
        fig, ax = plt.subplots(figsize=size)
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)
    return files


def _latency_vs_size(ax: Any, seeds: dict[str, Any], scales: list[dict[str, Any]]) -> None:
    """Dense search p50 per index kind, the floor, BM25 and hybrid retrieval, log-log."""
    for kind, style in (("flat", "o-"), ("hnsw", "s-"), ("ivf", "^-")):
        xs, ys = [], []
        if kind == "flat" and seeds:
            xs.append(seeds["corpus"]["chunks"])
            ys.append(seeds["stages_ms"]["dense"]["p50"])
        for s in scales:
            if kind in s["indexes"]:
                xs.append(s["chunks"])
                ys.append(s["indexes"][kind]["search_ms"]["p50"])
        if xs:
            ax.plot(xs, ys, style, label=f"dense search: {kind}")
    xs = [s["chunks"] for s in scales]
    if xs:
        ax.plot(xs, [s["floor_ms"]["p50"] for s in scales], "k--", label="floor: bare IndexFlatIP")
        ax.plot(xs, [s["bm25"]["search_ms"]["p50"] for s in scales], "x:", label="BM25")
        best = [
            min(v["retrieval_ms"]["total"]["p50"] for v in s["indexes"].values()) for s in scales
        ]
        ax.plot(xs, best, "d-", label="hybrid retrieval (fastest index)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("corpus size (chunks)")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("Latency vs corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def _ingest_bars(
    report: dict[str, Any], scales: list[dict[str, Any]]
) -> list[tuple[str, float, str]]:
    """(label, chunks/s, colour) for each ingest measurement of the run."""
    bars = []
    ing = report.get("ingest") or {}
    if ing:
        bars.append(
            (
                f"ours: build_index, {ing.get('encoder')}\n({ing['chunks']} chunks)",
                ing["chunks_per_s"],
                "tab:blue",
            )
        )
        if (ing.get("int8") or {}).get("chunks_per_s"):
            i8 = ing["int8"]
            bars.append(
                (f"ours, onnx-int8\n({i8['chunks']} chunks)", i8["chunks_per_s"], "tab:purple")
            )
        if ing.get("stock"):
            st = ing["stock"]
            bars.append(
                (f"stock LlamaIndex\n({st['chunks']} chunks)", st["chunks_per_s"], "tab:orange")
            )
    for s in scales:
        if s.get("embed"):
            label = f"ours: embed\n{s['embed']['chunks']:,} @ {s['chunks']:,}"
            bars.append((label, s["embed"]["chunks_per_s"], "tab:cyan"))
    return bars


def _ingest_throughput(ax: Any, report: dict[str, Any], scales: list[dict[str, Any]]) -> None:
    """Ingest throughput bars against the target and the PyTorch floor."""
    bars = _ingest_bars(report, scales)
    labels = [b[0] for b in bars]
    values = [b[1] for b in bars]
    ax.bar(range(len(values)), values, color=[b[2] for b in bars])
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.axhline(TARGETS["ingest_chunks_s"], color="green", ls="--", label="target")
    ax.axhline(FLOORS["torch_ingest_chunks_s"], color="red", ls=":", label="PyTorch floor")
    ax.set_ylabel("chunks / s (embedding included)")
    ax.set_title("Ingest throughput")
    ax.legend(fontsize=8)


def _seed_stages(ax: Any, seeds: dict[str, Any]) -> None:
    """Per-stage p50 on the seeds, ours next to the stock pipeline."""
    names = ["embed", "dense", "retrieve", "answer"]
    ours = [seeds["stages_ms"][s]["p50"] for s in names]
    stock = seeds.get("stock_ms") or {}
    x = np.arange(len(names))
    ax.bar(x - 0.2, ours, 0.4, label="ours")
    if stock:
        ax.bar(x + 0.2, [stock[s]["p50"] for s in names], 0.4, label="stock LlamaIndex")
    ax.set_xticks(x, names)
    ax.set_ylabel("p50 ms")
    ax.set_title(f"Seeds: per-stage latency ({seeds['corpus']['chunks']} chunks)")
    ax.legend()
