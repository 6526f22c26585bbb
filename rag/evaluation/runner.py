"""The evaluation runner behind ``rag eval``: compared configurations, scoring every
item through the same chain the app uses, gates.

One :class:`~rag.answer.assistant.Assistant` is loaded once; each compared configuration is a
set of per-call overrides passed to :meth:`Assistant.ask`. Metric functions live in
:mod:`rag.evaluation.metrics`, the report files and plots in :mod:`rag.evaluation.report`, and the
multi-domain suite (``rag eval --suite``) in :mod:`rag.evaluation.suite`, the command
line in :mod:`rag.evaluation.cli`.
"""

from __future__ import annotations

import sys
import time
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
    error_row,
    summarize,
)
from rag.evaluation.report import Report, RunResult
from rag.retrieve.filters import SourceFilter

if TYPE_CHECKING:
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


def item_filter(item: Item, sources: dict[str, str]) -> SourceFilter | None:
    """The :class:`SourceFilter` an item is asked under (None: the whole corpus).

    The item's ``filter.sources`` name files relative to the corpus folder, mapped by
    ``sources`` (file name -> indexed source path); a file that is not indexed stays as
    written, so it matches no document and the narrowed search finds nothing, as a user's
    would. ``since``/``until``/``scope`` are passed through unchanged.
    """
    if not item.filter:
        return None
    f = item.filter
    return SourceFilter.parse(
        [sources.get(name, name) for name in f.get("sources", [])],
        f.get("since"),
        f.get("until"),
        f.get("scope"),
    )


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

    An item with a ``filter`` is asked narrowed to what it allows (``narrow=``), the same
    way for ``rag eval --dataset`` and ``rag eval --suite``: this is the one code path.
    An item the answer chain refuses (a question over the length limit, say) becomes
    an error row naming the line and id, and the run goes on with the next item.
    """
    from tqdm import tqdm

    by_file: dict[str, str] | None = None
    rows = []
    for item in tqdm(items, desc=desc, unit="q", file=sys.stderr, disable=not progress):
        extra: dict[str, Any] = {}
        if item.filter:
            if by_file is None:  # the documents' file names, read once per call
                by_file = {scorer.file_key(d.source): d.source for d in bot.documents}
            extra["narrow"] = item_filter(item, by_file)
        try:
            answer = bot.ask(item.question, list(item.history) or None, **overrides, **extra)
        except RagError as exc:
            rows.append(error_row(item, str(exc)))
            if warn is not None:
                warn(f"line {item.line} (id {item.id}): {exc}; scored as an error, going on")
            continue
        row = scorer.score(item, answer)
        row["backend"] = answer.backend  # "extractive (fallback from ...)" when the LLM failed
        rows.append(row)
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
    "item_filter",
    "load_dataset",
    "parse_line",
    "read_dataset_bytes",
    "score_items",
    "parse_compare",
    "parse_gates",
    "summarize",
]
