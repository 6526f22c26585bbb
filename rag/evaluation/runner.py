"""The evaluation harness behind ``rag eval``: dataset, scoring, runner and CLI glue.

    rag eval                                            # eval/datasets/seeds_dev.jsonl
    rag eval --compare default hybrid=false lexical_only=true
    rag eval --min recall@5=0.9 --min answer_accuracy=0.8   # exit 1 below: a CI gate

One :class:`~rag.answer.assistant.Assistant` is loaded once; each compared configuration is a
set of per-call overrides passed to :meth:`Assistant.ask`. Metric functions live in
:mod:`rag.evaluation.metrics`, the report files and plots in :mod:`rag.evaluation.report`, and the
multi-domain suite (``rag eval --suite``) in :mod:`rag.evaluation.suite`.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.errors import ConfigError, RagError
from rag.evaluation.dataset import (
    FIELDS,
    QTYPES,
    Dataset,
    DatasetError,
    Item,
    load_dataset,
    parse_line,
    read_dataset_bytes,
)
from rag.evaluation.metrics import (
    LOWER_IS_BETTER,
    METRICS,
    Scorer,
    answer_words,
    by_type,
    error_row,
    latency,
    summarize,
)
from rag.evaluation.report import machine_info, package_versions, print_summary, write_reports

if TYPE_CHECKING:
    import argparse

    from rag.answer.assistant import Assistant

DEFAULT_OUT = Path("eval/reports/latest")
# Settings fixed when the index and models load: they cannot vary within one run.
LOAD_TIME_SETTINGS = frozenset(
    [
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
    ]
)


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
    bot: Assistant,
    dataset: Dataset,
    runs: Sequence[RunSpec],
    *,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Report:
    """Ask every question under every configuration with one loaded assistant and score it."""
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
        rows = score_items(
            bot,
            dataset.items,
            spec.overrides,
            scorer,
            desc=spec.label,
            progress=progress,
            warn=warn,
        )
        results.append(
            RunResult(spec.label, dict(spec.overrides), cfg, rows, time.perf_counter() - t0)
        )
    return Report(dataset, results)


def score_items(
    bot: Assistant,
    items: Sequence[Item],
    overrides: dict[str, Any],
    scorer: Scorer,
    *,
    desc: str = "",
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Ask each item (after its ``history``, for a follow-up) and score the answer.

    An item the answer chain refuses (a question over the length limit, say) becomes
    an error row naming the line and id, and the run goes on with the next item.
    """
    from tqdm import tqdm

    rows = []
    for item in tqdm(items, desc=desc, unit="q", file=sys.stderr, disable=not progress):
        try:
            answer = bot.ask(item.question, list(item.history) or None, **overrides)
        except RagError as exc:
            rows.append(error_row(item, str(exc)))
            if warn is not None:
                warn(f"line {item.line} (id {item.id}): {exc}; scored as an error, going on")
            continue
        rows.append(scorer.score(item, answer))
    return rows


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


# ---------------------------------------------------------------------------- CLI


def _warn(msg: str) -> None:
    print(f"rag: {msg}", file=sys.stderr)


def _dataset_path(path: Path, config: Config) -> Path:
    """The dataset path as given, or under the project root when only that exists."""
    if not path.exists() and not path.is_absolute() and config.path(path).exists():
        return config.path(path)
    return path


def run_cli(args: argparse.Namespace, config: Config, *, assistant: Assistant | None = None) -> int:
    """``rag eval``: run, write reports, print the summary; 1 when a ``--min`` gate fails."""
    gates = parse_gates(getattr(args, "min", None) or [])
    if getattr(args, "suite", None) is not None:
        from rag.evaluation.suite import run_suite_cli

        return run_suite_cli(args, config, gates)
    runs = parse_compare(getattr(args, "compare", None), config)
    path = _dataset_path(Path(args.dataset), config)
    dataset = load_dataset(path, config.corpus_path).head(getattr(args, "limit", None))
    if assistant is None:
        from rag.answer.assistant import Assistant

        assistant = Assistant.from_config(config, warn=_warn)
    report = evaluate(assistant, dataset, runs, progress=True, warn=_warn)
    report.gates = check_gates(report, gates)
    out = Path(args.out) if getattr(args, "out", None) else config.path(DEFAULT_OUT)
    write_reports(report, out)
    print_summary(report, out)
    return 0 if report.passed else 1


__all__ = [
    "FIELDS",
    "METRICS",
    "QTYPES",
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
    "parse_line",
    "read_dataset_bytes",
    "score_items",
    "parse_compare",
    "parse_gates",
    "run_cli",
    "summarize",
]
