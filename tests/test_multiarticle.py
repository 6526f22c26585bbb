"""Many articles, one answer (issue 20), evaluation side: the items' filters (sources,
since, until) apply the same way in ``rag eval --dataset`` and ``rag eval --suite``.

Real assistant (MiniLM, FAISS, BM25) over the shipped ``eval/multiarticle`` dev documents
(reservoir_project; the test split is never used here), indexed in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rag.config import Config

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "eval" / "multiarticle" / "reservoir_project"


@pytest.fixture(scope="module")
def filtered_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev split's filtered questions, alone in a question file."""
    lines = [
        line
        for line in (DEV / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("filter")
    ]
    assert len(lines) >= 4  # both kinds: by source and by date
    out = tmp_path_factory.mktemp("filtered") / "filtered.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def dev_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A config over the dev documents with its index and uploads in a temporary folder."""
    root = tmp_path_factory.mktemp("ma_root")
    return Config.from_env(
        {
            "root": root,
            "corpus_dir": DEV / "docs",
            "index_dir": root / "index",
            "upload_dir": root / "uploads",
        },
        environ={},
    )


def _rows(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r["id"]: r for r in rows}


def test_dataset_and_suite_apply_the_items_filters_alike(
    dev_config: Config, filtered_file: Path, tmp_path: Path
) -> None:
    from rag.answer.assistant import Assistant
    from rag.evaluation.cli import run_cli
    from rag.evaluation.dataset import load_dataset
    from rag.evaluation.suite import Domain, run_domain

    bot = Assistant.from_config(dev_config)
    args = argparse.Namespace(dataset=str(filtered_file), out=str(tmp_path / "ds"), suite=None)
    run_cli(args, dev_config, assistant=bot)
    by_dataset = _rows(tmp_path / "ds" / "per_question.jsonl")

    items = {i.id: i for i in load_dataset(filtered_file, dev_config.corpus_path).items}
    raw = {r["id"]: r for r in map(json.loads, filtered_file.read_text("utf-8").splitlines())}
    dates = {Path(d.source).name: d.date for d in bot.documents}
    for item_id, row in by_dataset.items():
        f = items[item_id].filter
        assert f, item_id
        cited = {Path(c["source"]).name for c in row["citations"]}
        if f.get("sources"):  # only the allowed articles are cited
            assert cited <= set(f["sources"]), (item_id, cited)
            assert row["metrics"]["filter_respected"], row["answer"]
        for name in cited:  # and only articles dated inside the range
            assert dates[name], name
            assert dates[name] >= f.get("since", "0000"), (item_id, name, dates[name])
            assert dates[name][: len(f.get("until", "9999"))] <= f.get("until", "9999")
        # the unfiltered answer (the newest article's) must not be what came back
        unfiltered = raw[item_id].get("unfiltered_answer")
        if unfiltered and not row["abstained"]:
            assert unfiltered not in row["answer"], (item_id, row["answer"])

    # the suite asks the same items the same way: the same answers and citations
    domain = Domain("dev", "", "dev", DEV / "docs", (filtered_file,))
    suite_cfg = dev_config.replace(index_dir=tmp_path / "suite_index", auto_index=True)
    result = run_domain(domain, suite_cfg, bot.parts.embedder)
    by_suite = {r["id"]: r for r in result.rows}
    assert by_suite.keys() == by_dataset.keys()
    for item_id, row in by_dataset.items():
        assert by_suite[item_id]["answer"] == row["answer"], item_id
        assert by_suite[item_id]["citations"] == row["citations"], item_id
