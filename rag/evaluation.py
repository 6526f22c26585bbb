"""The evaluation harness behind ``rag eval``: dataset, scoring, runner and CLI glue.

    rag eval                                            # eval/datasets/seeds_dev.jsonl
    rag eval --compare default hybrid=false lexical_only=true
    rag eval --min recall@5=0.9 --min answer_accuracy=0.8   # exit 1 below: a CI gate

One :class:`~rag.answer.Assistant` is loaded once; each compared configuration is a
set of per-call overrides passed to :meth:`Assistant.ask`. Metric functions live in
:mod:`rag.metrics`; the report files and plots are written at the end of this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import ConfigError, RagError
from .ingest import READERS, normalize
from .metrics import LOWER_IS_BETTER, METRICS, STAGES, TYPES, Scorer, by_type, latency, summarize

if TYPE_CHECKING:
    import argparse

    from .answer import Assistant

DEFAULT_OUT = Path("eval/reports/latest")
FIELDS: dict[str, type] = {
    "id": str,
    "question": str,
    "answer": str,
    "aliases": list,
    "answerable": bool,
    "source_files": list,
    "evidence": list,
    "type": str,
}
# Settings fixed when the index and models load: they cannot vary within one run.
LOAD_TIME_SETTINGS = frozenset(
    {
        "root",
        "corpus_dir",
        "index_dir",
        "embedding_model",
        "embed_batch_size",
        "embed_title",
        "query_cache_size",
        "chunk_size",
        "chunk_overlap",
        "index_type",
        "approx_threshold",
        "hnsw_m",
        "hnsw_ef_search",
        "ivf_nlist",
        "ivf_nprobe",
        "auto_index",
        "embed_backend",
        "store",
        "milvus_uri",
        "milvus_token",
        "milvus_collection",
        "lexical",
        "feedback_path",
        "upload_dir",
        "max_upload_mb",
    }
)


class DatasetError(RagError):
    """An evaluation dataset is missing or malformed; ``problems`` has one line per issue."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# ---------------------------------------------------------------------------- dataset

Location = tuple[str, int, int]  # (file under the corpus folder, start, end)


@dataclass(frozen=True)
class Item:
    """One evaluation question; ``locations[i]`` lists where ``evidence[i]`` occurs."""

    id: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    answerable: bool
    source_files: tuple[str, ...]
    evidence: tuple[str, ...]
    type: str
    line: int = 0
    locations: tuple[tuple[Location, ...], ...] = ()

    @property
    def golds(self) -> list[str]:
        return [self.answer, *self.aliases]


@dataclass(frozen=True)
class Dataset:
    """A validated dataset file."""

    path: Path
    sha256: str
    items: tuple[Item, ...]

    def head(self, n: int | None) -> Dataset:
        """The first ``n`` questions (all when ``n`` is None)."""
        if n is None:
            return self
        if n < 1:
            raise ConfigError("--limit must be at least 1")
        return replace(self, items=self.items[:n])

    def meta(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "items": len(self.items),
            "by_type": dict(Counter(i.type for i in self.items)),
        }


class _Corpus:
    """NFC text of corpus files by name (relative to the corpus folder), read once."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._texts: dict[str, str | None] = {}

    def text(self, name: str) -> str | None:
        if name not in self._texts:
            self._texts[name] = self._read(name)
        return self._texts[name]

    def _read(self, name: str) -> str | None:
        assert self.folder is not None
        path = self.folder / name
        try:
            path.resolve().relative_to(self.folder.resolve())
        except ValueError:
            return None
        if not path.is_file():
            return None
        reader = READERS.get(path.suffix.lower())
        try:
            return reader(path).text if reader else normalize(path.read_text(encoding="utf-8"))
        except (RagError, OSError, UnicodeDecodeError):
            return None


def load_dataset(path: Path, corpus_dir: Path | None = None) -> Dataset:
    """Read and validate a JSONL dataset; raise :class:`DatasetError` listing every problem.

    With ``corpus_dir``, every source file must exist there and every evidence string
    must occur verbatim (after NFC normalisation) in one of the item's source files.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"dataset {path} not found; pass --dataset PATH") from None
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 (byte offset {exc.start})") from None
    corpus = _Corpus(corpus_dir) if corpus_dir is not None else None
    items: list[Item] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item, errors = parse_line(line, lineno, corpus)
        if item is not None and item.id in seen:
            errors.append(
                f"line {lineno} (id {item.id}): field 'id': duplicate of line {seen[item.id]}"
            )
        problems += errors
        if item is not None and not errors:
            seen[item.id] = lineno
            items.append(item)
    if problems:
        shown = problems[:20] + (
            [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        )
        raise DatasetError(
            f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(shown), problems
        )
    if not items:
        raise DatasetError(f"{path}: no questions in the dataset")
    return Dataset(path, hashlib.sha256(data).hexdigest(), tuple(items))


def parse_line(
    line: str, lineno: int, corpus: _Corpus | None = None
) -> tuple[Item | None, list[str]]:
    """One dataset line as an :class:`Item` and the problems found (each naming line and id)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, [f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})"]
    except RecursionError:
        return None, [f"line {lineno}: JSON nested too deeply"]
    if not isinstance(rec, dict):
        return None, [f"line {lineno}: expected a JSON object, got {type(rec).__name__}"]
    ident = rec.get("id") if isinstance(rec.get("id"), str) else None
    where = f"line {lineno}" + (f" (id {ident})" if ident else "")
    errors = [f"{where}: field {msg}" for msg in _field_problems(rec)]
    if errors:
        return None, errors
    errors = [f"{where}: field {msg}" for msg in _consistency_problems(rec)]
    item = Item(
        id=rec["id"],
        question=rec["question"],
        answer=rec["answer"],
        aliases=tuple(rec["aliases"]),
        answerable=rec["answerable"],
        source_files=tuple(Path(f).as_posix() for f in rec["source_files"]),
        evidence=tuple(unicodedata.normalize("NFC", e) for e in rec["evidence"]),
        type=rec["type"],
        line=lineno,
    )
    if corpus is not None and not errors:
        locations, msgs = _locate(item, corpus)
        errors += [f"{where}: field {msg}" for msg in msgs]
        item = replace(item, locations=locations)
    return item, errors


def _field_problems(rec: dict[str, Any]) -> list[str]:
    """Missing fields and wrong types."""
    out = []
    for name, typ in FIELDS.items():
        if name not in rec:
            out.append(f"{name!r}: missing")
        elif not isinstance(rec[name], typ) or (typ is not bool and isinstance(rec[name], bool)):
            out.append(f"{name!r}: must be {typ.__name__}, got {type(rec[name]).__name__}")
        elif typ is list:
            bad = [i for i, v in enumerate(rec[name]) if not isinstance(v, str) or not v.strip()]
            if bad:
                out.append(f"{name!r}[{bad[0]}]: must be a non-empty string")
    return out


def _consistency_problems(rec: dict[str, Any]) -> list[str]:
    """Values that contradict each other (type vs answerable vs answer/evidence)."""
    out = []
    if not rec["id"].strip():
        out.append("'id': is empty")
    if not rec["question"].strip():
        out.append("'question': is empty")
    if rec["type"] not in TYPES:
        return [*out, f"'type': must be single, multi or unanswerable, not {rec['type']!r}"]
    if rec["answerable"] != (rec["type"] != "unanswerable"):
        out.append(f"'answerable': is {str(rec['answerable']).lower()} but type is {rec['type']!r}")
    elif not rec["answerable"]:
        out += [
            f"{f!r}: must be empty for an unanswerable question"
            for f in ("answer", "evidence")
            if rec[f]
        ]
    else:
        out += [
            f"{f!r}: must not be empty for an answerable question"
            for f in ("answer", "source_files", "evidence")
            if not (rec[f].strip() if isinstance(rec[f], str) else rec[f])
        ]
    return out


def _locate(item: Item, corpus: _Corpus) -> tuple[tuple[tuple[Location, ...], ...], list[str]]:
    """Where each evidence string occurs in the item's source files, and problems."""
    problems = [
        f"'source_files': {name!r} is not a readable file in the corpus folder {corpus.folder}"
        for name in item.source_files
        if corpus.text(name) is None
    ]
    if problems:
        return (), problems
    locations = []
    for i, ev in enumerate(item.evidence):
        found = tuple(
            (name, a, a + len(ev))
            for name in item.source_files
            for a in _find_all(corpus.text(name) or "", ev)
        )
        if not found:
            short = ev if len(ev) <= 60 else ev[:57] + "..."
            problems.append(
                f"'evidence'[{i}]: {short!r} is not verbatim in {' or '.join(item.source_files)}"
            )
        locations.append(found)
    return tuple(locations), problems


def _find_all(text: str, needle: str) -> list[int]:
    starts, a = [], text.find(needle)
    while a >= 0:
        starts.append(a)
        a = text.find(needle, a + 1)
    return starts


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class RunSpec:
    """One configuration to evaluate: a label and per-call overrides for ``Assistant.ask``."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)


def parse_compare(specs: Sequence[str] | None, base: Config) -> list[RunSpec]:
    """Parse ``--compare`` specs ("default", "hybrid=false,k=8", ...); raise :class:`ConfigError`."""
    runs = []
    for spec in specs or ["default"]:
        overrides: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if part == "default":
                continue
            key, sep, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise ConfigError(
                    f"--compare {spec!r}: expected NAME=VALUE pairs, e.g. hybrid=false,k=8"
                )
            if key in LOAD_TIME_SETTINGS:
                raise ConfigError(
                    f"--compare {spec!r}: {key} is fixed when the index and models load; "
                    f"run `rag eval` once per value instead (e.g. RAG_{key.upper()}=...)"
                )
            overrides[key] = value.strip()
        base.replace(**overrides)  # unknown names and bad values fail here, before any work
        label = spec.strip() or "default"
        if label in {r.label for r in runs}:
            raise ConfigError(f"--compare: {label!r} is given twice")
        runs.append(RunSpec(label, overrides))
    return runs


def parse_gates(values: Sequence[str]) -> list[tuple[str, float]]:
    """Parse ``--min METRIC=VALUE`` options; raise :class:`ConfigError` for bad ones."""
    gates = []
    for raw in values:
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep:
            raise ConfigError(f"--min {raw!r}: expected METRIC=VALUE, e.g. recall@5=0.9")
        if name not in METRICS or name in LOWER_IS_BETTER:
            ok = ", ".join(k for k in METRICS if k not in LOWER_IS_BETTER)
            raise ConfigError(f"--min: unknown metric {name!r}; choose from {ok}")
        try:
            gates.append((name, float(value)))
        except ValueError:
            raise ConfigError(f"--min {name}: {value.strip()!r} is not a number") from None
    return gates


# ---------------------------------------------------------------------------- runner


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
        return {
            "created": self.created,
            "dataset": self.dataset.meta(),
            "metric_definitions": METRICS,
            "runs": [r.to_dict() for r in self.runs],
            "gates": self.gates,
            "versions": package_versions(),
            "machine": machine_info(),
        }

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gates)


def evaluate(
    bot: Assistant, dataset: Dataset, runs: Sequence[RunSpec], *, progress: bool = False
) -> Report:
    """Ask every question under every configuration with one loaded assistant and score it."""
    from tqdm import tqdm

    missing = [i.id for i in dataset.items if i.answerable and not i.locations]
    if missing:
        raise DatasetError(
            f"evidence not located for {', '.join(missing[:5])}; load with corpus_dir"
        )
    results = []
    for i, spec in enumerate(runs):
        cfg = bot.config.replace(**spec.overrides)
        scorer = Scorer(cfg, bot.parts.embedder)
        if i:  # a freshly loaded assistant starts cold; put later configurations on par
            _cold_start(bot)
        t0 = time.perf_counter()
        rows = []
        bar = tqdm(dataset.items, desc=spec.label, unit="q", file=sys.stderr, disable=not progress)
        for item in bar:
            answer = bot.ask(item.question, **spec.overrides)
            rows.append(scorer.score(item, answer))
        results.append(
            RunResult(spec.label, dict(spec.overrides), cfg, rows, time.perf_counter() - t0)
        )
    return Report(dataset, results)


def _cold_start(bot: Assistant) -> None:
    """Empty the assistant's speed-only caches (query and sentence embeddings) so that every
    configuration is timed from the same state, not helped by the runs before it.

    Uses ``Assistant.clear_caches()`` when the answer chain offers one, else the known caches.
    """
    clear = getattr(bot, "clear_caches", None)
    if callable(clear):
        clear()
        return
    embedder, extractive = bot.parts.embedder, getattr(bot, "extractive", None)
    for owner, name in (
        (embedder, "_cache"),
        (embedder, "_texts"),
        (extractive, "_sentence_cache"),
    ):
        cache = getattr(owner, name, None)
        if isinstance(cache, dict):
            cache.clear()


def check_gates(report: Report, gates: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    """Each ``--min`` gate for each run: the value and whether it passed."""
    out = []
    for run in report.runs:
        values = run.metrics
        for name, minimum in gates:
            value = values.get(name)
            passed = value is not None and value >= minimum
            out.append(
                {"run": run.label, "metric": name, "min": minimum, "value": value, "passed": passed}
            )
    return out


# ---------------------------------------------------------------------------- reports

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
    lines += _md_table(["config", "type", *cols], rows) + ["", "## Outcomes", ""]
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
    for g in report.gates:
        mark = "[green]pass[/green]" if g["passed"] else "[bold red]FAIL[/bold red]"
        console.print(f"{mark} {g['run']}: {g['metric']} = {_fmt(g['value'])} (min {g['min']})")
    if out is not None:
        console.print(f"report: {out / 'report.md'}")


# ---------------------------------------------------------------------------- CLI


def _dataset_path(path: Path, config: Config) -> Path:
    """The dataset path as given, or under the project root when only that exists."""
    if not path.exists() and not path.is_absolute() and config.path(path).exists():
        return config.path(path)
    return path


def run_cli(args: argparse.Namespace, config: Config, *, assistant: Assistant | None = None) -> int:
    """``rag eval``: run, write reports, print the summary; 1 when a ``--min`` gate fails."""
    gates = parse_gates(getattr(args, "min", None) or [])
    runs = parse_compare(getattr(args, "compare", None), config)
    path = _dataset_path(Path(args.dataset), config)
    dataset = load_dataset(path, config.corpus_path).head(getattr(args, "limit", None))
    if assistant is None:
        from .answer import Assistant

        assistant = Assistant.from_config(
            config, warn=lambda msg: print(f"rag: {msg}", file=sys.stderr)
        )
    report = evaluate(assistant, dataset, runs, progress=True)
    report.gates = check_gates(report, gates)
    out = Path(args.out) if getattr(args, "out", None) else config.path(DEFAULT_OUT)
    write_reports(report, out)
    print_summary(report, out)
    return 0 if report.passed else 1


__all__ = [
    "METRICS",
    "Dataset",
    "DatasetError",
    "Item",
    "Report",
    "RunResult",
    "RunSpec",
    "Scorer",
    "check_gates",
    "evaluate",
    "load_dataset",
    "parse_compare",
    "parse_gates",
    "run_cli",
    "summarize",
]
