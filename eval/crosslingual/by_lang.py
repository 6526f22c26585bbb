"""Figures of a ``rag eval`` run over the cross-lingual dataset, per language pair.

``rag eval`` reports by question type; the dataset's optional ``lang`` field
("vi->en": a Vietnamese question over an English document, ...) is not one of its
groupings yet, so this joins the run's ``per_question.jsonl`` with the dataset by id
and prints the suite's headline metrics for each pair (a Markdown table, or JSON).

    RAG_CORPUS_DIR=eval/crosslingual/docs RAG_INDEX_DIR=/tmp/xl-index \
        rag eval --dataset eval/datasets/crosslingual.jsonl --out /tmp/xl
    python eval/crosslingual/by_lang.py /tmp/xl/per_question.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.evaluation.metrics import headline, summarize

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "eval" / "datasets" / "crosslingual.jsonl"
COLUMNS = ("answer_accuracy", "abstention_rate", "recall@5", "mrr", "false_abstention")


def langs(dataset: Path) -> dict[str, str]:
    """Question id -> language pair, from the dataset's ``lang`` field."""
    out = {}
    for line in dataset.read_text("utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["id"]] = rec.get("lang", "?")
    return out


def by_lang(rows: list[dict[str, Any]], pairs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Headline figures per (run, language pair), plus each run's total."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        run = r.get("run", "default")
        groups.setdefault(f"{run} {pairs.get(r['id'], '?')}", []).append(r)
        groups.setdefault(f"{run} all", []).append(r)
    out = {}
    for name in sorted(groups):
        ok = [r for r in groups[name] if not r.get("error")]
        s = summarize(ok)
        out[name] = headline(groups[name]) | {"recall@5": s["recall@5"], "mrr": s["mrr"]}
    return out


def table(figures: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: one row per run and language pair."""
    head = "| run / pair | n | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for name, f in figures.items():
        cells = ["—" if f.get(c) is None else f"{f[c]:.3f}" for c in COLUMNS]
        lines.append(f"| {name} | {f['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the per-pair table (or JSON) of one ``per_question.jsonl``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("per_question", type=Path, help="per_question.jsonl of a rag eval run")
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = ap.parse_args(argv)
    rows = [json.loads(x) for x in args.per_question.read_text("utf-8").splitlines() if x]
    figures = by_lang(rows, langs(args.dataset))
    print(json.dumps(figures, indent=2) if args.json else table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
