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


# ---------------------------------------------------------------------------- recency


@pytest.mark.parametrize(
    ("text", "question", "expected"),
    [
        (
            "The commission approved an average rise of 3.6% for 2026, lower than the 4.2% "
            "the company had asked for [1].",
            "By how much are bills going up, according to the most recent report?",
            "The commission approved an average rise of 3.6% for 2026 [1].",
        ),
        (
            "The completion date has moved from December 2027 to June 2028 [1].",
            "When is the project now expected to be finished?",
            "The completion date has moved to June 2028 [1].",
        ),
        (
            "The lake is now at 84% of capacity, up from 79% in January [1].",
            "What is the water level now?",  # no value type: read as asking for a figure
            "The lake is now at 84% of capacity [1].",
        ),
        (  # "from" that introduces no former value: unchanged
            "The loan from the bank is £52 million [1].",
            "How much is the loan now?",
            "The loan from the bank is £52 million [1].",
        ),
        (  # the compared value is of another kind than the one that stays: unchanged
            "It costs £5 million, more than the 4 cars [1].",
            "What does it cost now?",
            "It costs £5 million, more than the 4 cars [1].",
        ),
        (  # nothing would stay: unchanged
            "Up from 79% [1].",
            "What is the level now?",
            "Up from 79% [1].",
        ),
    ],
)
def test_a_latest_answer_drops_former_and_compared_values(
    text: str, question: str, expected: str
) -> None:
    from rag.answer.recency import drop_prior_values

    assert drop_prior_values(text, question) == expected


def test_metadata_blocks_are_not_supporting_sentences() -> None:
    from rag.answer.disagree import is_metadata

    assert is_metadata("---\ntitle: Statement from the board\ndate: 2025-11-27\n---")
    assert is_metadata("date: 2025-11-27")
    for prose in ("The cost is £4 million.", "Note: the bridge is shut.", "---"):
        assert not is_metadata(prose), prose


NEWER = {
    "a_plan.md": """---
title: Council unveils plan for the Brindle Street library
date: 2024-05-02
---

The county council has unveiled a plan to rebuild the Brindle Street library.
The rebuild of the Brindle Street library is expected to cost £4.2 million.
""",
    "b_update.md": """---
title: Library budget revised
date: 2025-02-11
---

The council revised the library budget on Tuesday.
The Brindle Street library rebuild is now expected to cost £5.1 million, up from £4.2 million.
""",
}


def test_a_latest_question_gets_the_current_value_only(tmp_path: Path) -> None:
    """End to end (real assistant): the newest article states the current cost next to
    the former one; the "latest" answer gives the current one, dated, and not the former."""
    from rag import prompts
    from rag.answer.assistant import Assistant

    (tmp_path / "seeds").mkdir()
    for name, text in NEWER.items():
        (tmp_path / "seeds" / name).write_text(text, encoding="utf-8")
    bot = Assistant.from_config(Config.from_env({"root": tmp_path}, environ={}))
    answer = bot.ask("What is the latest cost of the Brindle Street library rebuild?")
    assert not answer.abstained
    assert answer.answer.startswith(prompts.AS_OF.format(date="11 Feb 2025")), answer.answer
    assert "£5.1 million" in answer.answer and "£4.2 million" not in answer.answer, answer.answer
    assert {Path(c.source).name for c in answer.citations} == {"b_update.md"}
    for c in answer.citations:
        assert bot.document(c.source).text[c.start : c.end] == c.quote


# ---------------------------------------------------------------------------- counts


def _scored(text: str, source: str, score: float, semantic: float, lexical: float):
    """A candidate sentence as the extractive backend scores it (one sentence of a
    document named ``source``)."""
    from rag.answer.extractive import Scored
    from rag.types import Chunk

    chunk = Chunk(f"{source}@0", source, source, source, 0, len(text), text)
    return Scored(chunk, score, semantic, lexical, 1.0, 1)


COUNT_DATES = {"old": "2025-02-04", "new": "2026-03-03", "other": "2025-06-01"}


def test_a_count_in_a_differently_named_unit_is_a_side_when_about_the_same_occasion() -> None:
    from rag.answer import disagree

    q = "How many people will work on the dam site at the peak of construction?"
    new = _scored(
        "Fenmoor says 220 people will work on the site at the peak of construction.",
        "new",
        0.7,
        0.7,
        0.9,
    )
    old = _scored(
        "Around 180 jobs would be created at the peak of construction.", "old", 0.6, 0.6, 0.5
    )
    found = disagree.find(q, [new, old], COUNT_DATES.get)
    assert found is not None
    assert [s.value.span.text for s in found.sides] == ["220 people", "180 jobs"]
    # a count of something else, sharing one question term only: not a side
    turbines = _scored("The dam has 4 turbines.", "other", 0.55, 0.6, 0.4)
    assert disagree.find(q, [new, turbines], COUNT_DATES.get) is None
    # a sentence that also counts in the question's unit is judged on that count only
    both = _scored(
        "At the peak of construction 220 people on the site will fill 180 jobs.",
        "other",
        0.6,
        0.6,
        0.8,
    )
    assert disagree.find(q, [new, both], COUNT_DATES.get) is None
