"""``rag eval``: the command-line glue over the runner (:mod:`rag.evaluation.runner`)
and the multi-domain suite (:mod:`rag.evaluation.suite`).

    rag eval                                            # eval/datasets/seeds_dev.jsonl
    rag eval --compare default hybrid=false lexical_only=true
    rag eval --min recall@5=0.9 --min answer_accuracy=0.8   # exit 1 below: a CI gate
    rag eval --suite --split test
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Config
from rag.errors import ConfigError
from rag.evaluation.backends import (
    compare_specs,
    parse_backends,
    print_comparison,
    run_backends,
    sample_suite,
    write_comparison,
)
from rag.evaluation.dataset import load_dataset
from rag.evaluation.report import print_summary, write_reports
from rag.evaluation.runner import DEFAULT_OUT, check_gates, evaluate, parse_compare, parse_gates
from rag.evaluation.suite import DEFAULT_SUITE_OUT, Suite, load_suite, parse_sweep, run_suite
from rag.evaluation.suite_report import build_report, print_suite_summary, write_suite_reports

if TYPE_CHECKING:
    from rag.answer.assistant import Assistant


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
    backends = parse_backends(getattr(args, "backends", None))
    if backends and getattr(args, "compare", None):
        raise ConfigError("--backends is a --compare of backends: give one or the other")
    if getattr(args, "suite", None) is not None:
        if backends or getattr(args, "sample", None) is not None:
            return run_backends_cli(args, config, gates, backends or [config.backend])
        return run_suite_cli(args, config, gates)
    runs = parse_compare(compare_specs(backends) or getattr(args, "compare", None), config)
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


def run_suite_cli(
    args: argparse.Namespace, config: Config, gates: Sequence[tuple[str, float]]
) -> int:
    """``rag eval --suite``: run, write the reports, print the summary; 1 when a gate
    (checked on each selected split) fails."""
    if getattr(args, "compare", None):
        raise ConfigError(
            "--compare does not combine with --suite; run the suite once per configuration"
        )
    suite, split, sweep, out = _suite_args(args, config)
    results = run_suite(
        suite, config, out / "index", limit=getattr(args, "limit", None), sweep=sweep, warn=_warn
    )
    report = build_report(suite, split, config, results, gates)
    write_suite_reports(report, results, out)
    print_suite_summary(report, out)
    return 0 if all(g["passed"] for g in report["gates"]) else 1


def _suite_args(
    args: argparse.Namespace, config: Config
) -> tuple[Suite, str, tuple[float, ...], Path]:
    """The suite (a path as given, else under the project root) with its ``--split``
    selected, the ``--sweep`` values and the ``--out`` folder."""
    path = Path(args.suite)
    if not path.is_absolute() and not path.exists() and config.path(path).exists():
        path = config.path(path)
    split = getattr(args, "split", None) or "all"
    sweep = parse_sweep(getattr(args, "sweep", None), config)
    out = Path(args.out) if getattr(args, "out", None) else config.path(DEFAULT_SUITE_OUT)
    suite = load_suite(path).select(split).only(getattr(args, "domain", None))
    return suite, split, sweep, out


def run_backends_cli(
    args: argparse.Namespace,
    config: Config,
    gates: Sequence[tuple[str, float]],
    backends: Sequence[str],
) -> int:
    """``rag eval --suite --backends a,b [--sample N]``: the suite once per backend on the
    same questions (with ``--sample``, N per domain spread over its file), each backend's
    report and the comparison (:mod:`rag.evaluation.backends`)."""
    suite, split, sweep, out = _suite_args(args, config)
    limit, sample = getattr(args, "limit", None), getattr(args, "sample", None)
    if sample is not None:
        suite = sample_suite(suite, sample, out / "sample")
    results = run_backends(suite, config, backends, out, limit=limit, sweep=sweep, warn=_warn)
    report, checked = write_comparison(
        suite, split, config, results, out, limit=limit, sample=sample, gates=gates
    )
    print_comparison(report, out)
    return 0 if all(g["passed"] for g in checked) else 1
