"""Answer backends side by side on the evaluation suite (``rag eval --backends``).

Real everything: the suite's documents, indexes built per domain in a temp folder, the
real embedding model; the ``openai`` backend pointed at a port nobody listens on (each
answer then falls back to extractive, and the report must say so), and, in the slow
test, at a real llama.cpp server running SmolLM2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.llm.backends import smollm2_path
from rag.cli import main
from rag.errors import ConfigError
from rag.evaluation.backends import parse_backends, sample_suite, spread
from rag.evaluation.suite import DEFAULT_SUITE, load_suite
from tests.conftest import ROOT
from tests.llm_server import LlamaServer, closed_port

MANIFEST = ROOT / DEFAULT_SUITE


def test_parse_backends() -> None:
    assert parse_backends(None) == []
    assert parse_backends(" extractive, llamacpp ") == ["extractive", "llamacpp"]
    for bad in ("", "extractive,gpt", "openai,openai", ","):
        with pytest.raises(ConfigError):
            parse_backends(bad)


def test_spread_sample_follows_the_file_and_keeps_lines_verbatim(tmp_path: Path) -> None:
    assert spread(10, 3) == [0, 3, 6] and spread(4, 9) == [0, 1, 2, 3]
    suite = load_suite(MANIFEST).select("dev")
    sampled = sample_suite(suite, 6, tmp_path)
    for d, s in zip(suite.domains, sampled.domains, strict=True):
        lines = [x for q in d.questions for x in q.read_text(encoding="utf-8").splitlines() if x]
        got = s.questions[0].read_text(encoding="utf-8").splitlines()
        assert got == [lines[i] for i in spread(len(lines), 6)]
        answerable = {json.loads(x)["answerable"] for x in got}
        assert answerable == {True, False}, f"{d.name}: both kinds are sampled"
    with pytest.raises(ConfigError):
        sample_suite(suite, 0, tmp_path)


def test_backends_errors_are_one_line(tmp_path: Path) -> None:
    args = ["eval", "--suite", str(MANIFEST), "--out", str(tmp_path)]
    assert main([*args, "--backends", "extractive,nope"]) == 2
    assert main([*args, "--backends", "extractive", "--compare", "default"]) == 2
    assert main([*args, "--backends", "extractive", "--sample", "0"]) == 2


@pytest.mark.slow
def test_backends_on_the_same_questions_and_fallbacks_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """extractive next to an openai backend whose server is down: same questions per
    domain, every answer the model could not give counted as a fallback."""
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    out = tmp_path / "cmp"
    args = ["eval", "--suite", str(MANIFEST), "--split", "test", "--sample", "3"]
    args += ["--sweep", "0.45", "--backends", "extractive,openai", "--out", str(out)]
    assert main([*args, "--min", "citation_precision=0.0"]) == 0
    shown = capsys.readouterr().out
    assert "extractive,openai" in shown and "3 questions of each domain" in shown
    report = json.loads((out / "backends.json").read_text(encoding="utf-8"))
    assert report["backends"] == ["extractive", "openai"] and report["sample_per_domain"] == 3
    test_domains = [d.name for d in load_suite(MANIFEST).select("test").domains]
    assert len(test_domains) >= 2
    assert [s["scope"] for s in report["scopes"]] == [*test_domains, "test"]
    for b in ("extractive", "openai"):
        assert (out / b / "suite_report.md").stat().st_size > 0
    rows = {
        b: [json.loads(x) for x in (out / b / "per_question.jsonl").read_text().splitlines()]
        for b in ("extractive", "openai")
    }
    assert [r["id"] for r in rows["extractive"]] == [r["id"] for r in rows["openai"]]
    assert {r["backend"] for r in rows["extractive"]} == {"extractive"}
    fell_back = [r for r in rows["openai"] if r["backend"] != "openai"]
    assert fell_back and all(r["backend"] == "extractive (fallback from openai)" for r in fell_back)
    total = report["scopes"][-1]["backends"]
    assert total["openai"]["fallbacks"] == len(fell_back) and total["extractive"]["fallbacks"] == 0
    assert total["openai"]["n"] == total["extractive"]["n"] == 3 * len(test_domains)
    ext = json.loads((out / "extractive" / "suite_report.json").read_text(encoding="utf-8"))
    gen = json.loads((out / "openai" / "suite_report.json").read_text(encoding="utf-8"))
    assert ext["splits"]["test"]["calibration"], "the extractive gate is swept"
    assert not gen["splits"]["test"]["calibration"], "not for a generative backend"
    md = (out / "backends.md").read_text(encoding="utf-8")
    assert f"| **test** | test | openai | {3 * len(test_domains)} |" in md


@pytest.mark.llm
@pytest.mark.slow
def test_openai_backend_through_the_suite_against_a_real_llama_cpp_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    out = tmp_path / "openai"
    with LlamaServer(smollm2_path(), threads=1) as server:
        monkeypatch.setenv("RAG_OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("RAG_LLM_MAX_TOKENS", "64")
        args = ["eval", "--suite", str(MANIFEST), "--split", "test", "--sample", "1"]
        assert main([*args, "--sweep", "none", "--backends", "openai", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in (out / "openai" / "per_question.jsonl").read_text().splitlines()]
    test_domains = load_suite(MANIFEST).select("test").domains
    assert len(rows) == len(test_domains) and {r["backend"] for r in rows} == {"openai"}
    for r in rows:
        assert r["abstained"] or r["citations"], "an answer is cited, or it abstains"
