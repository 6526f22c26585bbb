"""The evaluation harness: dataset validation, metric functions, reports and the CI gate.

Real components throughout: the session Assistant over the seeds (tests/conftest.py).
The full-dataset run happens once per module and feeds both the report test and the
quality gate.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from rag.cli import main
from rag.config import Config
from rag.errors import ConfigError
from rag.evaluation.cli import run_cli
from rag.evaluation.metrics import (
    METRICS,
    Scorer,
    answer_correct,
    answer_tokens,
    key_parts,
    latency_summary,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)
from rag.evaluation.runner import (
    DatasetError,
    Item,
    load_dataset,
    parse_compare,
    parse_gates,
)
from rag.types import Answer, Citation
from tests.conftest import DATASET, SEEDS

# CI quality gate: a little under what the extractive backend reaches on seeds_dev.jsonl
# with the default config (hybrid retrieval, k=5); measured values in the comments.
# With 43 answerable and 11 unanswerable questions, one question is worth 0.023 / 0.091.
THRESHOLDS: dict[str, float] = {
    "recall@1": 0.80,  # measured 0.861
    "recall@3": 0.90,  # measured 0.965
    "recall@5": 0.92,  # measured 0.965
    "mrr": 0.90,  # measured 0.950
    "ndcg@5": 0.88,  # measured 0.938
    "answer_accuracy": 0.80,  # measured 0.861
    "answer_f1": 0.12,  # measured 0.158 (extractive answers are whole sentences)
    "citation_precision": 0.95,  # measured 1.000
    "citation_recall": 0.95,  # measured 1.000
    "faithfulness": 0.95,  # measured 1.000
    "abstention_rate": 0.70,  # measured 0.818
}
MAX_FALSE_ABSTENTION = 0.07  # measured 0.023 (lower is better, so not a --min gate)

GOOD = {
    "id": "t1",
    "question": "How many hotline calls were made?",
    "answer": "113",
    "aliases": ["113 calls"],
    "answerable": True,
    "source_files": ["000_8472d08a1f509d74.txt"],
    "evidence": ["making 113 hotline calls"],
    "type": "single",
}
UNANSWERABLE = {
    **GOOD,
    "id": "t2",
    "answer": "",
    "aliases": [],
    "answerable": False,
    "source_files": [],
    "evidence": [],
    "type": "unanswerable",
}


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


def problems_of(path: Path, corpus: Path | None = SEEDS) -> list[str]:
    with pytest.raises(DatasetError) as err:
        load_dataset(path, corpus)
    assert str(path) in str(err.value)
    return err.value.problems


# ---------------------------------------------------------------------------- dataset


def test_valid_dataset_loads_with_evidence_offsets(tmp_path: Path) -> None:
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", [GOOD, "", UNANSWERABLE]), SEEDS)
    assert [i.id for i in ds.items] == ["t1", "t2"]
    assert len(ds.sha256) == 64 and ds.head(1).items == ds.items[:1]
    ((name, a, b),) = ds.items[0].locations[0]
    assert (SEEDS / name).read_text(encoding="utf-8")[a:b] == "making 113 hotline calls"


def test_bad_json_line_names_the_line(tmp_path: Path) -> None:
    problems = problems_of(write_jsonl(tmp_path / "d.jsonl", [GOOD, '{"id": "x",']))
    assert len(problems) == 1
    assert problems[0].startswith("line 2: not valid JSON")


def test_missing_and_mistyped_fields_name_line_id_and_field(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "answer"}
    mistyped = {**GOOD, "id": "t3", "answerable": "yes", "aliases": "113"}
    problems = problems_of(write_jsonl(tmp_path / "d.jsonl", [missing, mistyped, [1, 2]]))
    assert "line 1 (id t1): field 'answer': missing" in problems
    assert "line 2 (id t3): field 'answerable': must be bool, got str" in problems
    assert "line 2 (id t3): field 'aliases': must be list, got str" in problems
    assert "line 3: expected a JSON object, got list" in problems


def test_evidence_not_verbatim_names_line_and_id(tmp_path: Path) -> None:
    bad = {**GOOD, "id": "q9", "evidence": ["making 114 hotline calls"]}
    problems = problems_of(write_jsonl(tmp_path / "d.jsonl", [GOOD, bad]))
    assert len(problems) == 1
    assert problems[0].startswith("line 2 (id q9): field 'evidence'[0]:")
    assert "'making 114 hotline calls' is not verbatim in 000_8472d08a1f509d74.txt" in problems[0]


def test_inconsistent_duplicate_and_unknown_file(tmp_path: Path) -> None:
    lines = [
        GOOD,
        {**GOOD},  # duplicate id
        {**GOOD, "id": "t4", "type": "unanswerable"},
        {**UNANSWERABLE, "id": "t5", "answer": "42"},
        {**GOOD, "id": "t6", "source_files": ["nope.txt"]},
        {**GOOD, "id": "t7", "type": "other"},
        {**GOOD, "id": "t8", "evidence": []},
    ]
    problems = problems_of(write_jsonl(tmp_path / "d.jsonl", lines))
    assert problems == [
        "line 2 (id t1): field 'id': duplicate of line 1",
        "line 3 (id t4): field 'answerable': is true but type is 'unanswerable'",
        "line 4 (id t5): field 'answer': must be empty for an unanswerable question",
        f"line 5 (id t6): field 'source_files': 'nope.txt' is not a readable file in the corpus folder {SEEDS}",
        "line 6 (id t7): field 'type': must be one of single, multi, two_part, followup, "
        "disagreement, recency, filtered, unanswerable, not 'other'",
        "line 7 (id t8): field 'evidence': must not be empty for an answerable question",
    ]


def test_missing_or_empty_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "none.jsonl")
    with pytest.raises(DatasetError, match="no questions"):
        load_dataset(write_jsonl(tmp_path / "e.jsonl", [""]))


@pytest.mark.parametrize(("name", "size"), [("seeds_dev.jsonl", 50), ("seeds_heldout.jsonl", 24)])
def test_every_seed_evidence_string_is_verbatim_in_its_file(name: str, size: int) -> None:
    ds = load_dataset(DATASET.with_name(name), SEEDS)
    assert len(ds.items) >= size
    for item in ds.items:
        assert len(item.locations) == len(item.evidence)
        for ev, occurrences in zip(item.evidence, item.locations, strict=True):
            assert occurrences, (item.id, ev)
            for name, a, b in occurrences:
                assert name in item.source_files
                assert (SEEDS / name).read_text(encoding="utf-8")[a:b] == ev


def test_bad_cli_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{oops"])
    common = ["eval", "--corpus-dir", str(SEEDS), "--index-dir", str(tmp_path / "idx")]
    assert main([*common, "--dataset", str(bad)]) == 2
    assert "line 1: not valid JSON" in capsys.readouterr().err
    assert main([*common, "--compare", "hybrid"]) == 2
    assert main([*common, "--compare", "nonsense=1"]) == 2
    assert main([*common, "--min", "speed=3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("rag: error:") for line in err)
    assert not (tmp_path / "idx").exists()  # failed before loading anything


def test_parse_compare_and_gates() -> None:
    base = Config.from_env(environ={})
    runs = parse_compare(["default", "backend=extractive,hybrid=false", "lexical-only=true"], base)
    assert [r.label for r in runs] == [
        "default",
        "backend=extractive,hybrid=false",
        "lexical-only=true",
    ]
    assert runs[0].overrides == {} and runs[2].overrides == {"lexical_only": "true"}
    assert [r.label for r in parse_compare(None, base)] == ["default"]
    for spec in (["k=zero"], ["chunk_size=300"], ["a", "a"], ["hybrid"]):
        with pytest.raises(ConfigError):
            parse_compare(spec, base)
    assert parse_gates(["recall@5=0.9", "answer_accuracy=0.8"]) == [
        ("recall@5", 0.9),
        ("answer_accuracy", 0.8),
    ]
    for bad in (["recall@5"], ["recall@5=high"], ["false_abstention=0.1"], ["bleu=1"]):
        with pytest.raises(ConfigError):
            parse_gates(bad)


# ---------------------------------------------------------------------------- metrics


def test_numbers_compare_as_numbers() -> None:
    assert answer_tokens("The 1,182 people") == ["1182", "people"]
    assert answer_tokens("20.0 and twenty") == ["20", "and", "20"]
    assert answer_correct("involving 1,182 people", "1182")
    assert answer_correct("involving 1182 people", "1,182")
    assert answer_correct("holding 20 talks", "twenty")
    assert not answer_correct("making 1134 calls", "113")  # whole numbers, not substrings
    assert not answer_correct("making 113 calls", "1,130")


def test_diacritics_and_punctuation_are_folded() -> None:
    assert answer_correct("Colonel Dao Quoc Thao said", "Đào Quốc Thạo")
    assert answer_correct("the Chi Ma - Ai Dian gate [1].", "Chi Ma – Ai Dian")
    assert answer_correct("Đào Quốc Thạo spoke", "dao quoc thao")
    assert not answer_correct("Zhu Xingan spoke", "Đào Quốc Thạo")


def test_multi_answers_match_by_key_parts() -> None:
    gold = "Chi Ma – Ai Dian (upgrade) and Bình Nghi – Ping Er Guan (opening)"
    assert key_parts(gold) == ["Chi Ma – Ai Dian", "Bình Nghi – Ping Er Guan"]
    assert key_parts("221 cases involving 1,182 people") == ["221 cases involving 1,182 people"]
    assert key_parts("upgrade; new procedures, more trains") == [
        "upgrade",
        "new procedures",
        "more trains",
    ]
    pred = "Opening Binh Nghi – Ping Er Guan was urged. Upgrading Chi Ma – Ai Dian was too."
    assert answer_correct(pred, gold, multi=True)
    assert not answer_correct(pred, gold, multi=False)
    assert not answer_correct("Only Chi Ma – Ai Dian.", gold, multi=True)
    assert answer_correct("35 suspects ... 70 suspects", "35 x", ["35 and 70"], multi=True)


def test_token_f1_is_squad_style_best_of_golds() -> None:
    assert token_f1("113", ["113"]) == 1.0
    assert math.isclose(token_f1("the 113 calls", ["113"]), 2 * 0.5 * 1 / 1.5)
    assert math.isclose(token_f1("113 calls", ["113", "113 calls"]), 1.0)
    assert token_f1("nothing here", ["113"]) == 0.0


def test_retrieval_metrics_on_constructed_hit_lists() -> None:
    found: list[set[int]] = [set(), {0}, set(), {1}, set()]  # evidence 0 at rank 2, 1 at rank 4
    assert recall_at_k(found, 2, 1) == 0.0
    assert recall_at_k(found, 2, 3) == 0.5
    assert recall_at_k(found, 2, 5) == 1.0
    assert reciprocal_rank(found) == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert math.isclose(ndcg_at_k(found, 2, 5), (1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert ndcg_at_k([{0, 1}], 2, 5) == 1.0  # both in the top passage: as good as it gets
    assert ndcg_at_k([{0}], 1, 5) == 1.0
    assert recall_at_k([], 1, 5) == reciprocal_rank([]) == ndcg_at_k([], 1) == 0.0
    assert latency_summary([1.0, 2.0, 3.0, 100.0])["p50"] == 2.5
    assert latency_summary([5.0])["max"] == 5.0


def test_scorer_citation_metrics_on_a_hand_made_answer(
    assistant, seed_config: Config, tmp_path: Path
) -> None:
    item = load_dataset(write_jsonl(tmp_path / "one.jsonl", [GOOD]), seed_config.corpus_path).items[
        0
    ]
    doc = next(d for d in assistant.documents if d.source.endswith(GOOD["source_files"][0]))
    a = doc.text.index("In 2025, border guard forces")
    b = doc.text.index(".", doc.text.index("113 hotline calls")) + 1
    far = doc.text.index("Colonel Zhu Xingan")
    good = Citation(1, doc.source, doc.title, a, b, doc.text[a:b], 1.0)
    off = Citation(2, doc.source, doc.title, far, far + 60, doc.text[far : far + 60], 1.0)
    answer = Answer(
        item.question,
        item.question,
        "They made 113 hotline calls [1]. Zhu Xingan met them [2].",
        False,
        "extractive",
        citations=[good, off],
    )
    row = Scorer(seed_config, assistant.parts.embedder).score(item, answer)
    s = row["metrics"]
    assert s["answer_correct"] and s["citations"] == 2
    assert s["citation_precision"] == 1.0  # [1] overlaps the evidence, [2] supports its sentence
    assert s["faithfulness"] == 1.0 and s["citation_recall"] == 1.0
    assert s["recall@5"] == 0.0 and row["failure"] is None  # no passages were given
    only = dataclasses.replace(off, n=1)
    wrong = Answer(
        item.question, item.question, "Zhu Xingan met them [1].", False, "x", citations=[only]
    )
    row = Scorer(seed_config, assistant.parts.embedder).score(item, wrong)
    assert row["failure"] == "evidence not retrieved" and not row["metrics"]["answer_correct"]


# ---------------------------------------------------------------------------- end to end


def eval_args(out: Path, *extra: str) -> argparse.Namespace:
    from rag.cli import build_parser

    return build_parser().parse_args(["eval", "--dataset", str(DATASET), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def full_run(store_assistant, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """`rag eval` over the whole seeds dataset with the default config and the CI gates,
    on each vector store."""
    out = tmp_path_factory.mktemp("eval") / "report"
    gates = [f"--min={k}={v}" for k, v in THRESHOLDS.items()]
    config = store_assistant.config
    code = run_cli(eval_args(out, *gates), config, assistant=store_assistant)
    return code, out


@pytest.mark.slow
def test_full_run_writes_every_report_file_and_metric(full_run: tuple[int, Path]) -> None:
    _, out = full_run
    for name in ("report.json", "report.md", "per_question.jsonl", "metrics.png", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    for png in ("metrics.png", "latency.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["dataset"]["sha256"] == hashlib.sha256(DATASET.read_bytes()).hexdigest()
    assert {"python", "rag", "torch", "numpy", "faiss-cpu"} <= set(report["versions"])
    assert {"platform", "cpu_count", "python"} <= set(report["machine"])
    (run,) = report["runs"]
    assert run["label"] == "default" and run["config"]["hybrid"] is True
    assert set(run["metrics"]) == set(METRICS)
    assert all(isinstance(v, float) for v in run["metrics"].values())
    for stage in ("retrieve", "generate", "verify", "total"):
        assert {"p50", "p95", "max"} <= set(run["latency_ms"][stage])
    assert sum(run["failures"].values()) == report["dataset"]["items"]
    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text().splitlines()]
    assert len(rows) == report["dataset"]["items"]
    for row in rows:
        assert {"question", "answer", "citations", "metrics", "failure", "issues"} <= set(row)
        assert row["failure"] in {
            None,
            "wrong answer",
            "evidence not retrieved",
            "should have abstained",
            "wrongly abstained",
        }
    md = (out / "report.md").read_text(encoding="utf-8")
    assert all(k in md for k in METRICS) and "![metrics](metrics.png)" in md


@pytest.mark.slow
def test_quality_gate_on_seeds_dev(full_run: tuple[int, Path]) -> None:
    code, out = full_run
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    metrics = report["runs"][0]["metrics"]
    below = {k: metrics[k] for k, v in THRESHOLDS.items() if metrics[k] < v}
    assert not below, f"below the CI thresholds {THRESHOLDS}: {below}"
    assert metrics["false_abstention"] <= MAX_FALSE_ABSTENTION
    assert code == 0 and all(g["passed"] for g in report["gates"])


@pytest.mark.slow
def test_compare_puts_configs_side_by_side_and_gate_fails(
    assistant, seed_config: Config, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = eval_args(
        tmp_path, "--compare", "default", "hybrid=false", "--limit", "3", "--min", "recall@5=1.01"
    )
    assert run_cli(args, seed_config, assistant=assistant) == 1
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [r["label"] for r in report["runs"]] == ["default", "hybrid=false"]
    assert report["runs"][1]["config"]["hybrid"] is False
    assert report["dataset"]["items"] == 3
    assert [g["passed"] for g in report["gates"]] == [False, False]
    shown = capsys.readouterr().out
    assert "hybrid=false" in shown and "FAIL" in shown
    assert len((tmp_path / "per_question.jsonl").read_text().splitlines()) == 6


def test_item_golds() -> None:
    item = Item("x", "q", "a", ("b",), True, ("f",), ("e",), "single")
    assert item.golds == ["a", "b"]


# ---------------------------------------------------------------------------- bad datasets
# Issue 13, item 9: bad datasets give one line on stderr and exit 2, before any model
# loads; a question the chain refuses is that item's error and the run goes on.


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rag: error:"), err
    return err[0]


def test_huge_integer_in_a_dataset_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "huge.jsonl"
    bad.write_text('{"id": ' + "9" * 5000 + "}\n", encoding="utf-8")
    common = ["eval", "--corpus-dir", str(SEEDS), "--index-dir", str(tmp_path / "idx")]
    assert main([*common, "--dataset", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert "line 1: not valid JSON" in line and "digits" in line
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize("target", ["/dev/zero", "folder"])
def test_dataset_that_is_not_a_regular_file_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture, target: str
) -> None:
    if target == "folder":
        (tmp_path / "folder").mkdir()
        target = str(tmp_path / "folder")
    link = tmp_path / "zero.jsonl"
    link.symlink_to(target)
    common = ["eval", "--corpus-dir", str(SEEDS), "--index-dir", str(tmp_path / "idx")]
    assert main([*common, "--dataset", str(link)]) == 2
    assert "is not a regular file" in _one_error_line(capsys)
    assert main([*common, "--suite", str(link)]) == 2  # a suite manifest likewise
    assert "is not a regular file" in _one_error_line(capsys)


def test_oversized_dataset_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    from rag.evaluation.dataset import read_dataset_bytes

    path = tmp_path / "big.jsonl"
    path.write_bytes(b" " * 2000)
    with pytest.raises(DatasetError, match="larger than"):
        read_dataset_bytes(path, limit=1000)
    assert read_dataset_bytes(path, limit=2000) == b" " * 2000


def test_optional_fields_are_checked(tmp_path: Path) -> None:
    lines = [
        {**GOOD, "qtype": "how_many", "history": [["Who met?", "The guards."]]},
        {**GOOD, "id": "t2", "qtype": "howmany"},
        {**GOOD, "id": "t3", "history": [["only a question"]]},
        {**GOOD, "id": "t4", "history": "Who met?"},
    ]
    problems = problems_of(write_jsonl(tmp_path / "d.jsonl", lines))
    assert len(problems) == 3
    assert problems[0].startswith("line 2 (id t2): field 'qtype': must be one of who, what")
    assert problems[1] == (
        "line 3 (id t3): field 'history'[0]: must be a [question, answer] pair or a "
        "{question, answer} object of non-empty strings"
    )
    assert problems[2] == "line 4 (id t4): field 'history': must be list, got str"
    ds = load_dataset(write_jsonl(tmp_path / "ok.jsonl", lines[:1]), SEEDS)
    assert ds.items[0].history == (("Who met?", "The guards."),)
    assert ds.items[0].kind == "how_many"


def test_overlong_question_is_that_items_error_and_the_run_goes_on(
    assistant, seed_config: Config, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    long_q = {**GOOD, "id": "long", "question": "How many hotline calls? " * 100}
    follow = {
        **GOOD,
        "id": "follow",
        "question": "And how many official letters?",
        "answer": "679",
        "aliases": [],
        "evidence": ["exchanging 679 official letters"],
        "qtype": "follow_up",
        "history": [["How many hotline calls did the border guards make in 2025?", "113."]],
    }
    data = write_jsonl(tmp_path / "d.jsonl", [GOOD, long_q, follow])
    out = tmp_path / "report"
    args = eval_args(out)
    args.dataset = data
    assert run_cli(args, seed_config, assistant=assistant) == 0
    err = capsys.readouterr().err
    assert re.search(r"rag: line 2 \(id long\): the question is 2,3\d\d characters long", err)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (run,) = report["runs"]
    assert [(e["id"], e["line"]) for e in run["errors"]] == [("long", 2)]
    assert run["failures"]["error"] == 1 and run["failed_ids"]["error"] == ["long"]
    assert run["metrics"]["answer_accuracy"] == 1.0  # the two asked questions, both right
    assert run["by_qtype"]["follow_up"]["answer_accuracy"] == 1.0
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert [r["failure"] for r in rows] == [None, "error", None]
    assert rows[2]["standalone_question"] != rows[2]["question"]  # the history was used
    assert "limit is 2,000" in rows[1]["error"] and rows[1]["metrics"] == {}
