"""Report files and the terminal summary of ``rag eval``: report.json, report.md,
per_question.jsonl, metrics.png, latency.png, and the rich summary table.

The result records (:class:`RunResult`, :class:`Report`) live here, next to the code
that writes them; :mod:`rag.evaluation.runner` fills them, and
:mod:`rag.evaluation.suite_report` reuses the table and formatting helpers.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.evaluation.metrics import (
    METRICS,
    STAGES,
    answer_words,
    by_type,
    headline,
    latency,
    summarize,
)

if TYPE_CHECKING:
    from rag.config import Config
    from rag.evaluation.dataset import Dataset

PACKAGES = ("rag", "numpy", "torch", "sentence-transformers", "faiss-cpu", "bm25s", "matplotlib")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the results (None when missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


@dataclass
class RunResult:
    """The outcome of one configuration over the dataset."""

    label: str
    overrides: dict[str, Any]
    config: Config
    rows: list[dict[str, Any]]
    seconds: float

    @property
    def metrics(self) -> dict[str, float | None]:
        return summarize(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "overrides": self.overrides,
            "config": self.config.as_dict(),
            "metrics": self.metrics,
            "by_type": by_type(self.rows),
            "by_qtype": by_type(self.rows, key="qtype"),
            "answer_words": answer_words(self.rows),
            "errors": [
                {"id": r["id"], "line": r["line"], "error": r["error"]}
                for r in self.rows
                if r.get("error")
            ],
            "latency_ms": latency(self.rows),
            "failures": dict(Counter(r["failure"] or "ok" for r in self.rows)),
            "failed_ids": _failed_ids(self.rows),
            "seconds": round(self.seconds, 3),
        }


def _failed_ids(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["failure"]:
            out.setdefault(r["failure"], []).append(r["id"])
    return out


@dataclass
class Report:
    """Everything ``rag eval`` found: per-run results, the dataset, the environment, gates."""

    dataset: Dataset
    runs: list[RunResult]
    gates: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict[str, Any]:
        runs = [r.to_dict() for r in self.runs]
        pairs = dataset_pairs(self.dataset.path)
        if pairs:  # a cross-lingual dataset: figures per language pair too
            for data, run in zip(runs, self.runs, strict=True):
                data["by_pair"] = by_pair(run.rows, pairs)
        return {
            "created": self.created,
            "dataset": self.dataset.meta(),
            "metric_definitions": METRICS,
            "runs": runs,
            "gates": self.gates,
            "versions": package_versions(),
            "machine": machine_info(),
        }

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gates)


def dataset_pairs(path: Path) -> dict[str, str]:
    """Question id -> language pair ("vi->en": a Vietnamese question over an English
    document), from the dataset rows' optional ``pair`` (or ``lang``) field; {} when the
    dataset has none. Read from the file because the validated items keep only the
    fields every dataset shares."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        pair = rec.get("pair") or rec.get("lang") if isinstance(rec, dict) else None
        if isinstance(pair, str) and pair and "id" in rec:
            out[str(rec["id"])] = pair
    return out


def by_pair(rows: Sequence[dict[str, Any]], pairs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The headline figures per language pair, plus the retrieval latency of each."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(pairs.get(str(r["id"]), "?"), []).append(r)
    out = {}
    for name in sorted(groups):
        ok = [r for r in groups[name] if not r.get("error")]
        s = summarize(ok)
        retrieve = latency(ok).get("retrieve", {})
        out[name] = headline(groups[name]) | {
            "recall@5": s["recall@5"],
            "retrieve_ms_p50": retrieve.get("p50"),
        }
    return out


def _pair_md(runs: Sequence[dict[str, Any]]) -> list[str]:
    """The per-language-pair table, for datasets that give pairs."""
    if not any(r.get("by_pair") for r in runs):
        return []
    cols = ["n", "answer_accuracy", "abstention_rate", "false_abstention", "recall@5"]
    cols.append("retrieve_ms_p50")
    rows = [
        [r["label"], p, *(_cell(v.get(c)) for c in cols)]
        for r in runs
        for p, v in r.get("by_pair", {}).items()
    ]
    return ["## By language pair", "", *_md_table(["config", "pair", *cols], rows), ""]


def write_reports(report: Report, out: Path) -> list[Path]:
    """Write report.json, report.md, per_question.jsonl, metrics.png and latency.png."""
    out.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    paths = [out / "report.json", out / "per_question.jsonl", out / "report.md"]
    paths[0].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with paths[1].open("w", encoding="utf-8") as fh:
        for run in report.runs:
            for row in run.rows:
                fh.write(json.dumps({"run": run.label, **row}, ensure_ascii=False) + "\n")
    paths[2].write_text(markdown(data), encoding="utf-8")
    paths.append(plot_metrics(data["runs"], out / "metrics.png"))
    paths.append(plot_latency(report.runs, out / "latency.png"))
    return paths


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(value: Any) -> str:
    return str(value) if isinstance(value, int) else _fmt(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(data: dict[str, Any]) -> str:
    """report.md: metric, latency, per-type and failure tables, gates and plots."""
    runs, ds = data["runs"], data["dataset"]
    labels = [r["label"] for r in runs]
    lines = [
        "# Evaluation report",
        "",
        f"Dataset `{ds['path']}` ({ds['items']} questions: "
        + ", ".join(f"{n} {t}" for t, n in ds["by_type"].items())
        + f"), sha256 `{ds['sha256'][:16]}…`; {data['created']}; "
        + f"{data['machine']['platform']}, {data['machine']['cpu_count']} CPUs.",
        "",
        "## Metrics",
        "",
    ]
    rows = [[k, *(_fmt(r["metrics"][k]) for r in runs)] for k in METRICS]
    lines += _md_table(["metric", *labels], rows) + ["", "![metrics](metrics.png)", ""]
    lines += ["## Latency (ms, p50 / p95 / max)", ""]
    stages = list(dict.fromkeys(s for r in runs for s in r["latency_ms"]))
    rows = [[s, *(_latency_cell(r["latency_ms"].get(s)) for r in runs)] for s in stages]
    lines += _md_table(["stage", *labels], rows) + ["", "![latency](latency.png)", ""]
    lines += ["## By question type", ""]
    cols = ["n", "answer_accuracy", "recall@5", "mrr", "abstention_rate"]
    rows = [
        [r["label"], t, *(_cell(v.get(c)) for c in cols)]
        for r in runs
        for t, v in r["by_type"].items()
    ]
    lines += _md_table(["config", "type", *cols], rows) + [""]
    lines += _qtype_md(runs) + _pair_md(runs) + ["## Outcomes", ""]
    for r in runs:
        lines.append(f"- **{r['label']}**: ok {r['failures'].get('ok', 0)}")
        lines += [f"  - {k} {len(ids)}: {', '.join(ids)}" for k, ids in r["failed_ids"].items()]
    if data["gates"]:
        lines += ["", "## Gates", ""]
        rows = [
            [
                g["run"],
                g["metric"],
                _fmt(g["value"]),
                f">= {g['min']}",
                "pass" if g["passed"] else "FAIL",
            ]
            for g in data["gates"]
        ]
        lines += _md_table(["run", "metric", "value", "min", "result"], rows)
    lines += ["", "## Definitions", ""] + [f"- **{k}**: {v}" for k, v in METRICS.items()]
    return "\n".join(lines) + "\n"


def _qtype_md(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Per fine question type (the dataset's optional ``qtype``), when it gives any."""
    if all(set(r.get("by_qtype", {})) <= {"single", "multi", "unanswerable"} for r in runs):
        return []
    cols = ["n", "answer_accuracy", "abstention_rate", "false_abstention", "answer_words_p50"]
    rows = [
        [r["label"], q, *(_cell(v.get(c)) for c in cols)]
        for r in runs
        for q, v in r.get("by_qtype", {}).items()
    ]
    return ["## By fine question type", "", *_md_table(["config", "qtype", *cols], rows), ""]


def _latency_cell(s: dict[str, float] | None, *, short: bool = False) -> str:
    if not s:
        return "–"
    if short:
        return f"{s['p50']:.0f} / {s['p95']:.0f}"
    return f"{s['p50']:.0f} / {s['p95']:.0f} / {s['max']:.0f}"


def plot_metrics(runs: Sequence[dict[str, Any]], path: Path) -> Path:
    """Grouped bar chart: one group per metric, one bar per configuration."""
    from matplotlib.figure import Figure

    names = list(METRICS)
    fig = Figure(figsize=(max(8.0, 0.9 * len(names)), 4.8), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(names))]
        values = [run["metrics"][k] for k in names]
        bars = ax.bar(xs, [v or 0.0 for v in values], width, label=run["label"])
        if len(runs) <= 3:
            labels = ["–" if v is None else f"{v:.2f}" for v in values]
            ax.bar_label(bars, labels, fontsize=6, padding=1)
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("score (false_abstention: lower is better)")
    ax.set_title("Metrics per configuration")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return path


def plot_latency(runs: Sequence[RunResult], path: Path) -> Path:
    """Box plot of per-question milliseconds for each stage, one box per configuration."""
    from matplotlib.figure import Figure

    stages = [s for s in STAGES if any(s in r["timings_ms"] for run in runs for r in run.rows)]
    fig = Figure(figsize=(max(7.0, 1.6 * len(stages)), 4.5), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(runs), 1)
    colors = [f"C{i}" for i in range(len(runs))]
    for i, run in enumerate(runs):
        data = [[r["timings_ms"].get(s, 0.0) for r in run.rows] for s in stages]
        pos = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(stages))]
        box = ax.boxplot(
            data, positions=pos, widths=width * 0.9, patch_artist=True, showfliers=True
        )
        for patch in box["boxes"]:
            patch.set_facecolor(colors[i])
            patch.set_alpha(0.6)
        ax.plot([], [], color=colors[i], linewidth=8, alpha=0.6, label=run.label)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_ylabel("milliseconds per question")
    ax.set_title("Latency per stage")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return path


def print_summary(report: Report, out: Path | None = None) -> None:
    """The metric and latency tables in the terminal (rich), then gates and the report path."""
    from rich.console import Console
    from rich.table import Table

    runs = [r.to_dict() for r in report.runs]
    width = 24 + sum(max(len(r["label"]), 13) + 3 for r in runs)
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or in CI: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=max(width, 80))
    table = Table(
        title=f"rag eval: {report.dataset.path.name} ({len(report.dataset.items)} questions)"
    )
    table.add_column("metric", no_wrap=True)
    for r in runs:
        table.add_column(r["label"], justify="right", no_wrap=True)
    for key in METRICS:
        table.add_row(key, *(_fmt(r["metrics"][key]) for r in runs))
    for stage in ("retrieve", "total"):
        table.add_row(
            f"{stage} ms p50/p95",
            *(_latency_cell(r["latency_ms"].get(stage), short=True) for r in runs),
        )
    console.print(table)
    _print_pairs(console, report)
    for g in report.gates:
        mark = "[green]pass[/green]" if g["passed"] else "[bold red]FAIL[/bold red]"
        console.print(f"{mark} {g['run']}: {g['metric']} = {_fmt(g['value'])} (min {g['min']})")
    if out is not None:
        console.print(f"report: {out / 'report.md'}")


def _print_pairs(console: Any, report: Report) -> None:
    """Accuracy / abstention / recall@5 per language pair, when the dataset gives pairs."""
    pairs = dataset_pairs(report.dataset.path)
    if not pairs:
        return
    from rich.table import Table

    table = Table(title="per pair: acc / abst / R@5")
    table.add_column("pair", no_wrap=True)
    for run in report.runs:
        table.add_column(run.label, justify="right", no_wrap=True)
    per_run = [by_pair(run.rows, pairs) for run in report.runs]
    for name in sorted({p for r in per_run for p in r}):
        cells = []
        for r in per_run:
            v = r.get(name, {})
            keys = ("answer_accuracy", "abstention_rate", "recall@5")
            cells.append(" / ".join(_fmt(v.get(k), 2) for k in keys))
        table.add_row(name, *cells)
    console.print(table)
