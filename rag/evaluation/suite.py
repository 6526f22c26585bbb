"""The multi-domain evaluation suite behind ``rag eval --suite``.

    rag eval --suite                               # eval/suite/suite.toml, every domain
    rag eval --suite --split test --out eval/reports/suite-test
    rag eval --suite my_suite.toml --limit 10 --sweep none

A suite manifest (TOML) lists *domains*: a folder of documents in one genre, its
question files (the dataset schema of :mod:`rag.evaluation.dataset`) and its split, ``dev``
(tune on it) or ``test`` (report it; never tune on its failures). The split is by
document set, never by question, so the test split measures documents the chain has
not been shaped on. Each domain gets its own index (built through the normal index
code, under ``OUT/index/<domain>``) and is scored exactly like ``rag eval``; the
report gives the figures per domain, per question type and per split, plus a
calibration sweep of the extractive ``min_answer_score`` against accuracy and coverage.
Report files and tables are in :mod:`rag.evaluation.suite_report`.
"""

from __future__ import annotations

import re
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.errors import ConfigError
from rag.evaluation.dataset import Dataset, DatasetError, load_dataset, read_dataset_bytes
from rag.evaluation.metrics import Scorer
from rag.evaluation.runner import score_items

if TYPE_CHECKING:
    from rag.embed.encoder import Embedder

DEFAULT_SUITE = Path("eval/suite/suite.toml")
DEFAULT_SUITE_OUT = Path("eval/reports/suite")
SPLITS = ("dev", "test")
DEFAULT_SWEEP = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Domain:
    """One document set of the suite, its question files and its split."""

    name: str
    genre: str
    split: str
    docs: Path
    questions: tuple[Path, ...]


@dataclass(frozen=True)
class Suite:
    """A validated suite manifest."""

    path: Path
    domains: tuple[Domain, ...]

    def select(self, split: str) -> Suite:
        """Only the domains of ``split`` ("dev", "test"), or all of them for "all"."""
        if split == "all":
            return self
        if split not in SPLITS:
            raise ConfigError(f"--split must be dev, test or all, not {split!r}")
        return replace(self, domains=tuple(d for d in self.domains if d.split == split))

    def only(self, names: str | None) -> Suite:
        """Only the domains named in ``names`` (comma-separated; None or "": all), in the
        manifest's order; an unknown name is an error that lists the known ones."""
        wanted = [n.strip() for n in (names or "").split(",") if n.strip()]
        if not wanted:
            return self
        known = {d.name for d in self.domains}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise ConfigError(
                f"--domain {', '.join(unknown)}: no such domain in {self.path.name} "
                f"(the selected split has: {', '.join(sorted(known)) or 'none'})"
            )
        return replace(self, domains=tuple(d for d in self.domains if d.name in wanted))


def load_suite(path: Path) -> Suite:
    """Read and check a suite manifest; raise :class:`DatasetError` listing every problem.

    Each domain needs a unique ``name``, a ``split`` of dev or test, an existing ``docs``
    folder that no other domain shares or nests in, and at least one existing question
    file. Paths are relative to the manifest's folder.
    """
    raw = read_dataset_bytes(path)
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(f"suite manifest {path}: not valid TOML ({exc})") from None
    tables = data.get("domain")
    if not isinstance(tables, list) or not tables:
        raise DatasetError(f"suite manifest {path}: no [[domain]] tables")
    domains, problems = [], []
    for i, table in enumerate(tables, start=1):
        domain, errors = _parse_domain(table, i, path.parent)
        problems += errors
        if domain is not None and not errors:
            domains.append(domain)
    problems += _overlap_problems(domains)
    if problems:
        raise DatasetError(
            f"suite manifest {path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems),
            problems,
        )
    return Suite(path, tuple(domains))


def _parse_domain(table: Any, i: int, base: Path) -> tuple[Domain | None, list[str]]:
    """One ``[[domain]]`` table as a :class:`Domain`, and its problems."""
    if not isinstance(table, dict):
        return None, [f"domain {i}: must be a table"]
    name = table.get("name")
    where = f"domain {i}" + (f" ({name})" if isinstance(name, str) else "")
    errors = []
    if not isinstance(name, str) or not _NAME.match(name):
        errors.append(f"{where}: 'name' must be lowercase letters, digits, '_' or '-'")
    if table.get("split") not in SPLITS:
        errors.append(f"{where}: 'split' must be dev or test, not {table.get('split')!r}")
    docs = table.get("docs")
    if not isinstance(docs, str) or not (base / docs).is_dir():
        errors.append(f"{where}: 'docs' must name an existing folder, not {docs!r}")
    questions = table.get("questions")
    if isinstance(questions, str):
        questions = [questions]
    if not isinstance(questions, list) or not questions:
        errors.append(f"{where}: 'questions' must list at least one question file")
        questions = []
    for q in questions:
        if not isinstance(q, str) or not (base / q).is_file():
            errors.append(f"{where}: question file {q!r} not found")
    if errors:
        return None, errors
    return Domain(
        name=name,
        genre=str(table.get("genre", "")),
        split=table["split"],
        docs=(base / docs).resolve(),
        questions=tuple((base / q).resolve() for q in questions),
    ), []


def _overlap_problems(domains: Sequence[Domain]) -> list[str]:
    """Duplicate names, and document folders shared or nested between domains (the
    split is by document set: no document may sit in two domains)."""
    out, seen = [], set()
    for d in domains:
        if d.name in seen:
            out.append(f"domain {d.name}: the name is used twice")
        seen.add(d.name)
    for a in domains:
        for b in domains:
            if a is not b and (a.docs == b.docs or b.docs.is_relative_to(a.docs)):
                out.append(f"domains {a.name} and {b.name} share documents ({b.docs})")
    return out


def domain_config(base: Config, domain: Domain, index_root: Path) -> Config:
    """The config for one domain: its documents, its own index folder, no uploads, and
    (for a Milvus Lite store) its own database file. Built automatically if missing."""
    index_dir = index_root / domain.name
    changes: dict[str, Any] = {
        "corpus_dir": domain.docs,
        "index_dir": index_dir,
        "upload_dir": index_root / f"{domain.name}.no-uploads",
        "auto_index": True,
    }
    if base.store == "milvus" and not base.milvus_uri.startswith(("http://", "https://")):
        changes["milvus_uri"] = str(index_dir / "milvus.db")
    return base.replace(**changes)


# ---------------------------------------------------------------------------- runner


@dataclass
class DomainResult:
    """The outcome of one domain: its scored rows, and the rows of each sweep value."""

    domain: Domain
    config: Config
    datasets: list[Dataset]
    rows: list[dict[str, Any]]
    sweep: dict[float, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: float = 0.0


def parse_sweep(value: str | None, base: Config) -> tuple[float, ...]:
    """``--sweep``: comma-separated ``min_answer_score`` values, or "none"."""
    if value is None:
        return DEFAULT_SWEEP
    if value.strip().lower() in {"none", "off", ""}:
        return ()
    try:
        values = tuple(sorted({round(float(v), 4) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise ConfigError(f"--sweep {value!r}: expected numbers such as 0.3,0.45,0.6") from None
    for v in values:
        base.replace(min_answer_score=v)  # out-of-range values fail here, before any work
    return values


def run_domain(
    domain: Domain,
    config: Config,
    embedder: Embedder,
    *,
    limit: int | None = None,
    sweep: Sequence[float] = (),
    warn: Callable[[str], None] | None = None,
) -> DomainResult:
    """Index one domain (incrementally), ask and score its questions, then re-ask them
    at each sweep value of ``min_answer_score`` (the configured value is not re-asked)."""
    from rag.answer.assistant import Assistant
    from rag.retrieve.components import Components
    from rag.retrieve.retriever import Retriever
    from rag.store.build import open_index

    t0 = time.perf_counter()
    datasets = [load_dataset(q, config.corpus_path) for q in domain.questions]
    items = [item for ds in datasets for item in ds.items][:limit]
    index = open_index(config, embedder, warn=warn, progress=sys.stderr.isatty())
    bot = Assistant(Components(config, embedder, index, Retriever(index, embedder, config)))
    scorer = Scorer(config, embedder)

    def ask(overrides: dict[str, Any], desc: str) -> list[dict[str, Any]]:
        """Score every item under ``overrides``, each row tagged with domain and split; an
        item with a ``filter`` is asked narrowed to what it allows (in ``score_items``)."""
        rows = score_items(
            bot, items, overrides, scorer, desc=desc, progress=sys.stderr.isatty(), warn=warn
        )
        return [{"domain": domain.name, "split": domain.split, **r} for r in rows]

    rows = ask({}, domain.name)
    result = DomainResult(domain, config, datasets, rows)
    for value in sweep:
        if abs(value - config.min_answer_score) < 1e-9:
            result.sweep[value] = rows
        else:
            result.sweep[value] = ask({"min_answer_score": value}, f"{domain.name} @{value:g}")
    result.seconds = time.perf_counter() - t0
    return result


def run_suite(
    suite: Suite,
    config: Config,
    index_root: Path,
    *,
    limit: int | None = None,
    sweep: Sequence[float] = (),
    warn: Callable[[str], None] | None = None,
) -> list[DomainResult]:
    """Run every domain of ``suite`` with one embedding model loaded once."""
    from rag.embed.encoder import Embedder

    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    if not suite.domains:
        raise ConfigError(f"{suite.path}: no domain in the selected split")
    embedder = Embedder(
        config.embedding_model,
        batch_size=config.embed_batch_size,
        cache_size=config.query_cache_size,
        backend=config.embed_backend,
    )
    return [
        run_domain(
            d,
            domain_config(config, d, index_root),
            embedder,
            limit=limit,
            sweep=sweep,
            warn=warn,
        )
        for d in suite.domains
    ]
