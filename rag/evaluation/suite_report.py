"""Reports of ``rag eval --suite`` (:mod:`rag.evaluation.suite`): figures per domain, per question
type and per split, the calibration sweep, and the files and tables that show them.

Files written to ``--out``: ``suite_report.json`` (everything), ``suite_report.md``,
``per_question.jsonl`` (every scored row, tagged with its domain and split) and
``calibration.png`` (``min_answer_score`` against accuracy and coverage, per split).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.evaluation.metrics import (
    METRICS,
    MULTIARTICLE_METRICS,
    by_type,
    headline,
    latency,
    selective,
    summarize,
)
from rag.evaluation.report import _fmt, _md_table, machine_info, package_versions

if TYPE_CHECKING:
    from rag.config import Config
    from rag.evaluation.suite import DomainResult, Suite

SPLIT_ORDER = ("dev", "test", "all")
COLUMNS = (
    ("answer_accuracy", "accuracy"),
    ("abstention_rate", "abstention"),
    ("false_abstention", "false abst."),
    ("citation_precision", "cit. precision"),
    ("recall@5", "recall@5"),
    ("answer_words_p50", "words p50"),
)


def group(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every figure the suite gives for a set of rows (a domain, a split, the whole)."""
    unanswerable = [r for r in rows if r["type"] == "unanswerable"]
    return {
        "headline": headline(rows),
        "metrics": summarize(rows),
        "by_type": by_type(rows),
        "by_qtype": by_type(rows, key="qtype"),
        "by_miss": by_type(unanswerable, key="miss"),
    }


def calibration(results: Sequence[DomainResult]) -> list[dict[str, Any]]:
    """Coverage and accuracy at each swept ``min_answer_score``, pooled over ``results``."""
    values = sorted({v for res in results for v in res.sweep})
    return [
        {"min_answer_score": v, **selective([r for res in results for r in res.sweep.get(v, [])])}
        for v in values
    ]


def _domain_entry(res: DomainResult) -> dict[str, Any]:
    """One domain's part of the report: where its files are, all its figures, failures."""
    d = res.domain
    rows = res.rows
    failed: dict[str, list[str]] = {}
    for r in rows:
        if r["failure"]:
            failed.setdefault(r["failure"], []).append(r["id"])
    return {
        "name": d.name,
        "genre": d.genre,
        "split": d.split,
        "docs": str(d.docs),
        "index_dir": str(res.config.path(res.config.index_dir)),
        "questions": [
            {"path": str(ds.path), "sha256": ds.sha256, "items": len(ds.items)}
            for ds in res.datasets
        ],
        **group(rows),
        "latency_ms": latency(rows),
        "failures": dict(Counter(r["failure"] or "ok" for r in rows)),
        "failed_ids": failed,
        "errors": [
            {"id": r["id"], "line": r["line"], "error": r["error"]} for r in rows if r.get("error")
        ],
        "calibration": calibration([res]),
        "seconds": round(res.seconds, 3),
    }


def build_report(
    suite: Suite,
    split: str,
    config: Config,
    results: Sequence[DomainResult],
    gates: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """The whole suite report as one JSON-ready dict; gates are checked per split."""
    splits: dict[str, Any] = {}
    for name in SPLIT_ORDER:
        chosen = [res for res in results if name == "all" or res.domain.split == name]
        if not chosen or (name == "all" and len({r.domain.split for r in results}) < 2):
            continue
        rows = [r for res in chosen for r in res.rows]
        splits[name] = {
            "domains": [res.domain.name for res in chosen],
            **group(rows),
            "calibration": calibration(chosen),
        }
    checked = [
        {
            "run": f"split {name}",
            "metric": metric,
            "min": minimum,
            "value": entry["metrics"].get(metric),
            "passed": entry["metrics"].get(metric) is not None
            and entry["metrics"][metric] >= minimum,
        }
        for name, entry in splits.items()
        if name != "all"
        for metric, minimum in gates
    ]
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite": str(suite.path),
        "split": split,
        "config": config.as_dict(),
        "domains": [_domain_entry(res) for res in results],
        "splits": splits,
        "gates": checked,
        "metric_definitions": METRICS,
        "versions": package_versions(),
        "machine": machine_info(),
    }


# ---------------------------------------------------------------------------- files


def write_suite_reports(
    report: dict[str, Any], results: Sequence[DomainResult], out: Path
) -> list[Path]:
    """Write suite_report.json, suite_report.md, per_question.jsonl and calibration.png."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "suite_report.json", out / "per_question.jsonl", out / "suite_report.md"]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with paths[1].open("w", encoding="utf-8") as fh:
        for res in results:
            for row in res.rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    paths[2].write_text(suite_markdown(report), encoding="utf-8")
    if any(s["calibration"] for s in report["splits"].values()) or any(
        d["calibration"] for d in report["domains"]
    ):
        paths.append(plot_calibration(report, out / "calibration.png"))
    return paths


def _row(label: Sequence[str], h: dict[str, Any]) -> list[str]:
    """Table cells for a headline dict: the label columns, counts, then :data:`COLUMNS`."""
    counts = [str(h["n"]), str(h["unanswerable"])]
    return [
        *label,
        *counts,
        *(_fmt(h[k]) if k != "answer_words_p50" else _words(h[k]) for k, _ in COLUMNS),
    ]


def _words(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def suite_markdown(report: dict[str, Any]) -> str:
    """suite_report.md: tables per domain, per split, per question type and near-miss
    kind, the calibration sweep, errors and failures."""
    heads = [c for _, c in COLUMNS]
    lines = [
        "# Evaluation suite report",
        "",
        f"Suite `{report['suite']}`, split `{report['split']}`, backend "
        f"`{report['config']['backend']}`; {report['created']}; "
        f"{report['machine']['platform']}, {report['machine']['cpu_count']} CPUs.",
        "",
        "## Per domain",
        "",
    ]
    rows = [_row([d["name"], d["split"]], d["headline"]) for d in report["domains"]]
    lines += _md_table(["domain", "split", "n", "unans.", *heads], rows)
    lines += ["", "## Per split", ""]
    rows = [
        _row([name, ", ".join(s["domains"])], s["headline"]) for name, s in report["splits"].items()
    ]
    lines += _md_table(["split", "domains", "n", "unans.", *heads], rows)
    lines += ["", "## Per question type", ""]
    rows = [
        _row([qtype, name], h)
        for name, s in report["splits"].items()
        for qtype, h in s["by_qtype"].items()
    ]
    lines += _md_table(["qtype", "split", "n", "unans.", *heads], rows)
    lines += ["", "## Unanswerable questions by kind of near miss (abstention rate)", ""]
    rows = [
        [miss, name, str(h["n"]), _fmt(h["abstention_rate"])]
        for name, s in report["splits"].items()
        for miss, h in s["by_miss"].items()
    ]
    lines += _md_table(["near miss", "split", "n", "abstention"], rows)
    lines += _many_articles_md(report)
    lines += _calibration_md(report)
    lines += _failures_md(report)
    lines += ["", "## Definitions", ""] + [f"- **{k}**: {v}" for k, v in METRICS.items()]
    lines += [f"- **{k}**: {v}" for k, v in MULTIARTICLE_METRICS.items()]
    lines.append("- **words p50**: median length in words of the answers given (no abstentions).")
    return "\n".join(lines) + "\n"


def many_article_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per split and question type: n, accuracy (abstention for unanswerables) and the
    many-article metrics; empty when no item of the suite has them."""
    keys = list(MULTIARTICLE_METRICS)
    if not any(k in s["metrics"] for s in report["splits"].values() for k in keys):
        return []
    rows = []
    for name, s in report["splits"].items():
        for typ, h in {**s["by_type"], "all": s["headline"]}.items():
            main = h.get("abstention_rate") if typ == "unanswerable" else h.get("answer_accuracy")
            rows.append([name, typ, str(h["n"]), _fmt(main), *(_fmt(h.get(k)) for k in keys)])
    return rows


def _many_articles_md(report: dict[str, Any]) -> list[str]:
    """The many-article section of suite_report.md (only for suites with such items)."""
    rows = many_article_rows(report)
    if not rows:
        return []
    head = ["split", "type", "n", "accuracy (abstention)", *MULTIARTICLE_METRICS]
    return ["", "## Many-article questions per type", "", *_md_table(head, rows)]


def _calibration_md(report: dict[str, Any]) -> list[str]:
    """The calibration section of suite_report.md: the plot and the sweep per split."""
    lines = ["", "## Calibration: `min_answer_score` against accuracy and coverage", ""]
    if not any(s["calibration"] for s in report["splits"].values()):
        return [*lines, "No sweep was run (`--sweep none`)."]
    lines += [
        "coverage: share of questions answered; selective accuracy: share of the answered "
        "ones answered right (an answered unanswerable is wrong).",
        "",
        "![calibration](calibration.png)",
        "",
    ]
    rows = [
        [
            name,
            f"{p['min_answer_score']:g}",
            *(_fmt(p[k]) for k in ("coverage", "selective_accuracy", "answer_accuracy")),
            *(_fmt(p[k]) for k in ("abstention_rate", "false_abstention")),
        ]
        for name, s in report["splits"].items()
        for p in s["calibration"]
    ]
    head = ["split", "min_answer_score", "coverage", "selective acc.", "accuracy"]
    return lines + _md_table([*head, "abstention", "false abst."], rows)


def _failures_md(report: dict[str, Any]) -> list[str]:
    """Failed ids per domain and reason, item errors, and the gates."""
    lines = ["", "## Outcomes per domain", ""]
    for d in report["domains"]:
        lines.append(f"- **{d['name']}** ({d['split']}): ok {d['failures'].get('ok', 0)}")
        lines += [f"  - {k} {len(ids)}: {', '.join(ids)}" for k, ids in d["failed_ids"].items()]
        lines += [f"  - error, line {e['line']} ({e['id']}): {e['error']}" for e in d["errors"]]
    if report["gates"]:
        lines += ["", "## Gates", ""]
        rows = [
            [
                g["run"],
                g["metric"],
                _fmt(g["value"]),
                f">= {g['min']}",
                "pass" if g["passed"] else "FAIL",
            ]
            for g in report["gates"]
        ]
        lines += _md_table(["split", "metric", "value", "min", "result"], rows)
    return lines


def plot_calibration(report: dict[str, Any], path: Path) -> Path:
    """One panel per split: selective accuracy, coverage, answer accuracy and abstention
    rate against ``min_answer_score``; a dashed line marks the configured value."""
    from matplotlib.figure import Figure

    panels = [(n, s["calibration"]) for n, s in report["splits"].items() if s["calibration"]]
    if not panels:  # a single split: per-domain curves are pooled in "splits" already
        panels = [(d["name"], d["calibration"]) for d in report["domains"]]
    fig = Figure(figsize=(5.0 * len(panels), 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    series = (
        ("selective_accuracy", "selective accuracy"),
        ("coverage", "coverage (answered)"),
        ("answer_accuracy", "accuracy (answerable)"),
        ("abstention_rate", "abstention (unanswerable)"),
    )
    for ax, (name, points) in zip(axes, panels, strict=True):
        xs = [p["min_answer_score"] for p in points]
        for key, label in series:
            ax.plot(
                xs,
                [p[key] if p[key] is not None else float("nan") for p in points],
                marker="o",
                label=label,
            )
        ax.axvline(report["config"]["min_answer_score"], color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{name}")
        ax.set_xlabel("min_answer_score (abstention threshold)")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share")
    axes[0].legend(fontsize="small", loc="lower left")
    fig.savefig(path, dpi=110)
    return path


# ---------------------------------------------------------------------------- terminal


def print_suite_summary(report: dict[str, Any], out: Path | None = None) -> None:
    """Per-domain and per-split rows, then accuracy/abstention per question type."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=130)
    table = Table(title=f"rag eval --suite: {Path(report['suite']).name} (split {report['split']})")
    for col in ("domain", "split", "n", "unans.", *(c for _, c in COLUMNS)):
        table.add_column(col, justify="left" if col == "domain" else "right", no_wrap=True)
    for d in report["domains"]:
        table.add_row(*_row([d["name"], d["split"]], d["headline"]))
    for name, s in report["splits"].items():
        table.add_row(*_row([f"[bold]{name} total[/bold]", name], s["headline"]))
    console.print(table)
    names = list(report["splits"])
    qtable = Table(title="per question type: accuracy / abstention on unanswerables")
    qtable.add_column("qtype", no_wrap=True)
    for name in names:
        qtable.add_column(name, justify="right", no_wrap=True)
    qtypes = sorted({q for s in report["splits"].values() for q in s["by_qtype"]})
    for q in qtypes:
        cells = []
        for name in names:
            h = report["splits"][name]["by_qtype"].get(q)
            cells.append(
                "–"
                if h is None
                else f"{_fmt(h['answer_accuracy'], 2)} / {_fmt(h['abstention_rate'], 2)} ({h['n']})"
            )
        qtable.add_row(q, *cells)
    console.print(qtable)
    many = many_article_rows(report)
    if many:
        mtable = Table(title="many-article questions per type")
        for col in ("split", "type", "n", "acc. (abst.)", *MULTIARTICLE_METRICS):
            mtable.add_column(col, justify="left" if col in {"split", "type"} else "right")
        for row in many:
            mtable.add_row(*row)
        console.print(mtable)
    for g in report["gates"]:
        mark = "[green]pass[/green]" if g["passed"] else "[bold red]FAIL[/bold red]"
        console.print(f"{mark} {g['run']}: {g['metric']} = {_fmt(g['value'])} (min {g['min']})")
    errors = sum(len(d["errors"]) for d in report["domains"])
    if errors:
        console.print(f"[yellow]{errors} question(s) could not be asked; see the report[/yellow]")
    if out is not None:
        console.print(f"report: {out / 'suite_report.md'}")
