"""Answer backends side by side on the same questions: ``rag eval --backends``.

    rag eval --suite --split dev --limit 20 --sweep none --backends extractive,llamacpp
    rag eval --dataset eval/datasets/seeds_dev.jsonl --backends extractive,openai

With ``--suite``, the suite (:mod:`rag.evaluation.suite`) runs once per backend over the
same questions (``--limit`` takes the same first N of each domain every time) and the
same indexes; each backend's full suite report goes to ``OUT/<backend>/`` and the
comparison, per domain and per split, to ``OUT/backends.json`` and ``OUT/backends.md``.
A generative answer that fell back to extractive (the model crashed, hung or could not
load) is counted in the ``fallbacks`` column, so such answers are never passed off as
the model's. The ``min_answer_score`` sweep concerns the extractive gate only and is
run for extractive only. With ``--dataset``, ``--backends a,b`` is ``--compare
backend=a backend=b``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.config import BACKENDS, Config
from rag.errors import ConfigError
from rag.evaluation.dataset import read_dataset_bytes
from rag.evaluation.metrics import headline, latency, summarize
from rag.evaluation.report import _fmt, _md_table, machine_info, package_versions
from rag.evaluation.suite import DomainResult, Suite, run_suite
from rag.evaluation.suite_report import build_report, write_suite_reports

COLUMNS = (
    ("answer_accuracy", "accuracy"),
    ("abstention_rate", "abstention"),
    ("false_abstention", "false abst."),
    ("citation_precision", "cit. precision"),
    ("faithfulness", "faithfulness"),
    ("answer_words_p50", "words p50"),
)


def parse_backends(value: str | None) -> list[str]:
    """``--backends``: comma-separated backend names, each once; [] when not given."""
    if value is None:
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in BACKENDS]
    if bad or not names:
        raise ConfigError(
            f"--backends {value!r}: name one or more of {', '.join(BACKENDS)}, comma-separated"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"--backends {value!r}: a backend is named twice")
    return names


def spread(n_items: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(n_items)`` (all of them when fewer): a
    sample that follows a file's mix of question types wherever they sit in it."""
    if n >= n_items:
        return list(range(n_items))
    return sorted({(i * n_items) // n for i in range(n)})


def sample_suite(suite: Suite, n: int, folder: Path) -> Suite:
    """``suite`` with each domain's questions cut to ``n`` spread over its files
    (:func:`spread`), written verbatim to ``folder/<domain>.jsonl`` (which the reports
    then name, with its sha256)."""
    if n < 1:
        raise ConfigError("--sample must be at least 1")
    folder.mkdir(parents=True, exist_ok=True)
    domains = []
    for d in suite.domains:
        lines = [
            line
            for q in d.questions
            for line in read_dataset_bytes(q).decode("utf-8-sig").splitlines()
            if line.strip()
        ]
        path = folder / f"{d.name}.jsonl"
        path.write_text("".join(lines[i] + "\n" for i in spread(len(lines), n)), encoding="utf-8")
        domains.append(replace(d, questions=(path.resolve(),)))
    return replace(suite, domains=tuple(domains))


def compare_specs(backends: Sequence[str]) -> list[str]:
    """The ``--compare`` specs for ``rag eval --dataset --backends``."""
    return [f"backend={b}" for b in backends]


def run_backends(
    suite: Suite,
    config: Config,
    backends: Sequence[str],
    out: Path,
    *,
    limit: int | None = None,
    sweep: Sequence[float] = (),
    warn: Callable[[str], None] | None = None,
) -> dict[str, list[DomainResult]]:
    """Run the suite once per backend (indexes shared under ``OUT/index``); the sweep
    of the extractive gate only for ``extractive``."""
    results = {}
    for b in backends:
        cfg = config.replace(backend=b)
        results[b] = run_suite(
            suite,
            cfg,
            out / "index",
            limit=limit,
            sweep=sweep if b == "extractive" else (),
            warn=warn,
        )
    return results


def fallbacks(rows: Sequence[dict[str, Any]]) -> int:
    """Answers given by the extractive fallback instead of the requested model."""
    return sum(1 for r in rows if str(r.get("backend", "")).startswith("extractive (fallback"))


def _figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A comparison cell group: the suite headline, faithfulness, fallbacks and the
    generation and total time per question (p50 / p95, milliseconds)."""
    ok = [r for r in rows if not r.get("error")]
    lat = latency(ok)
    return {
        **headline(rows),
        "faithfulness": summarize(ok).get("faithfulness"),
        "fallbacks": fallbacks(rows),
        "generate_ms": lat.get("generate"),
        "total_ms": lat.get("total"),
    }


def comparison(
    suite: Suite,
    split: str,
    config: Config,
    results: dict[str, list[DomainResult]],
    limit: int | None,
    sample: int | None = None,
) -> dict[str, Any]:
    """Per domain and per split, each backend's figures over the same questions."""
    backends = list(results)
    first = results[backends[0]]
    for b in backends[1:]:  # the same questions for every backend, or the table lies
        for a, c in zip(first, results[b], strict=True):
            if [r["id"] for r in a.rows] != [r["id"] for r in c.rows]:
                raise RuntimeError(f"{b} was asked other questions than {backends[0]}")
    scopes: list[dict[str, Any]] = []
    for i, res in enumerate(first):
        scopes.append(
            {
                "scope": res.domain.name,
                "split": res.domain.split,
                "backends": {b: _figures(results[b][i].rows) for b in backends},
            }
        )
    for name in ("dev", "test"):
        picked = [i for i, res in enumerate(first) if res.domain.split == name]
        if picked:
            scopes.append(
                {
                    "scope": name,
                    "split": name,
                    "backends": {
                        b: _figures([r for i in picked for r in results[b][i].rows])
                        for b in backends
                    },
                }
            )
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite": str(suite.path),
        "split": split,
        "limit_per_domain": limit,
        "sample_per_domain": sample,
        "backends": backends,
        "seconds": {b: round(sum(r.seconds for r in results[b]), 1) for b in backends},
        "llm": {
            k: v
            for k, v in config.as_dict().items()
            if k.startswith(("llm_", "openai_base_url", "openai_model"))
        },
        "scopes": scopes,
        "versions": package_versions(),
        "machine": machine_info(),
    }


def _asked(report: dict[str, Any]) -> str:
    """Which questions were asked, in words."""
    limit, sample = report["limit_per_domain"], report.get("sample_per_domain")
    if sample is not None:
        what = f"{sample} questions of each domain, spread over its file"
        return what + (f", the first {limit} of them" if limit is not None else "")
    return "every question" if limit is None else f"the first {limit} questions of each domain"


def _cells(f: dict[str, Any]) -> list[str]:
    """Table cells for one backend's figures."""
    words = f["answer_words_p50"]
    gen = f["generate_ms"]
    return [
        *(
            _fmt(f[k]) if k != "answer_words_p50" else ("–" if words is None else f"{words:g}")
            for k, _ in COLUMNS
        ),
        "–" if not gen else f"{gen['p50'] / 1000:.1f} / {gen['p95'] / 1000:.1f}",
        str(f["fallbacks"]),
    ]


HEAD = ["scope", "split", "backend", "n", "unans.", *(c for _, c in COLUMNS)]
HEAD += ["generate s p50 / p95", "fallbacks"]


def comparison_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per scope (domain, then split) and backend."""
    rows = []
    for s in report["scopes"]:
        label = s["scope"] if s["scope"] not in {"dev", "test"} else f"**{s['scope']}**"
        for b, f in s["backends"].items():
            rows.append([label, s["split"], b, str(f["n"]), str(f["unanswerable"]), *_cells(f)])
    return rows


def comparison_markdown(report: dict[str, Any]) -> str:
    """backends.md: the comparison table, what was asked and where it ran."""
    asked = _asked(report)
    secs = ", ".join(f"{b} {s:g} s" for b, s in report["seconds"].items())
    m = report["machine"]
    lines = [
        "# Answer backends on the same questions",
        "",
        f"Suite `{report['suite']}`, split `{report['split']}`, {asked}; "
        f"{report['created']}; {m['platform']}, {m['cpu_count']} CPUs; run time: {secs}.",
        "Each backend's full report is in its own folder (`<backend>/suite_report.md`).",
        "fallbacks: answers the extractive backend gave because the model failed (counted "
        "in that backend's figures).",
        "",
        *_md_table(HEAD, comparison_rows(report)),
        "",
        "LLM settings: " + ", ".join(f"{k}={v}" for k, v in report["llm"].items()),
    ]
    return "\n".join(lines) + "\n"


def write_comparison(
    suite: Suite,
    split: str,
    config: Config,
    results: dict[str, list[DomainResult]],
    out: Path,
    *,
    limit: int | None = None,
    sample: int | None = None,
    gates: Sequence[tuple[str, float]] = (),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each backend's suite report under ``OUT/<backend>/`` and the comparison in
    ``OUT/backends.json|md``; returns the comparison and the gate results (every
    backend's, labelled with it)."""
    checked = []
    for b, res in results.items():
        report = build_report(suite, split, config.replace(backend=b), res, gates)
        write_suite_reports(report, res, out / b)
        checked += [{**g, "run": f"{b}, {g['run']}"} for g in report["gates"]]
    data = comparison(suite, split, config, results, limit, sample)
    data["gates"] = checked
    out.mkdir(parents=True, exist_ok=True)
    (out / "backends.json").write_text(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "backends.md").write_text(comparison_markdown(data), encoding="utf-8")
    return data, checked


def print_comparison(report: dict[str, Any], out: Path | None = None) -> None:
    """The comparison table on the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=170)
    table = Table(
        title=f"rag eval --suite --backends {','.join(report['backends'])} "
        f"(split {report['split']}; {_asked(report)})"
    )
    for col in HEAD:
        table.add_column(col, justify="left" if col in {"scope", "backend"} else "right")
    for row in comparison_rows(report):
        table.add_row(*(c.replace("**", "") for c in row))
    console.print(table)
    for g in report.get("gates", []):
        mark = "[green]pass[/green]" if g["passed"] else "[bold red]FAIL[/bold red]"
        console.print(f"{mark} {g['run']}: {g['metric']} = {_fmt(g['value'])} (min {g['min']})")
    if out is not None:
        console.print(f"report: {out / 'backends.md'}")
