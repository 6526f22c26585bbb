"""Narrowing a question to some documents: chosen files, a date range, uploads or not.

The session's real seed index and assistant (packaged MiniLM, FAISS, BM25); the CLI as a
subprocess; the OpenAI-compatible endpoint through the ``openai`` SDK.
"""

from __future__ import annotations

import json

import pytest

from rag import prompts
from rag.errors import QueryError
from rag.retrieve.filters import SourceFilter
from rag.types import Document
from tests.conftest import run_rag

HOTLINE_Q = "How many hotline calls did the Vietnamese and Chinese border guards make in 2025?"
HOTLINE_DOC = "seeds/000_8472d08a1f509d74.txt"
# The narrowing tests ask a question the answerer answers with confidence either way
# (abstention-model probability 0.99 unnarrowed and narrowed): they test narrowing.
# The hotline question sits at 0.46-0.48 against the 0.45 threshold (issue 15 note), so
# the narrowed candidate set's term weights tipped it into an abstention.
CRIME_Q = "How many border crime cases were handled by the Lạng Sơn Border Guard in 2025?"


def doc(source: str, date: str = "") -> Document:
    return Document(source, source, source, "text", date=date)


def test_filter_selects_by_source_date_and_scope() -> None:
    docs = [
        doc("seeds/a.txt", "2024-11-02"),
        doc("seeds/b.txt", "2025-03"),
        doc("uploads/c.md", "2025-06-30"),
        doc("uploads/d.md"),  # no date
    ]
    pick = lambda **kw: SourceFilter.parse(**kw).select(docs, "uploads")  # noqa: E731
    assert SourceFilter.parse().select(docs, "uploads") is None
    assert pick(sources=["seeds/b.txt", "nope.txt"]) == ["seeds/b.txt"]
    assert pick(since="2025") == ["seeds/b.txt", "uploads/c.md"]
    assert pick(since="2025-03-31", until="2025-04") == ["seeds/b.txt"]  # March covers the 31st
    assert pick(until="2024") == ["seeds/a.txt"]
    assert pick(scope="uploaded") == ["uploads/c.md", "uploads/d.md"]
    assert pick(scope="bundled", since="2025") == ["seeds/b.txt"]
    assert pick(since="2030") == []
    with pytest.raises(QueryError, match="since must be a date"):
        SourceFilter.parse(since="last week")
    with pytest.raises(QueryError, match="scope must be"):
        SourceFilter.parse(scope="mine")


def test_a_narrowed_question_cites_only_allowed_documents(assistant) -> None:
    others = [d.source for d in assistant.documents if d.source != HOTLINE_DOC]
    only = assistant.ask(CRIME_Q, narrow=SourceFilter.parse(sources=[HOTLINE_DOC]))
    assert "221" in only.answer and {c.source for c in only.citations} == {HOTLINE_DOC}
    assert {h.chunk.source for h in only.passages} == {HOTLINE_DOC}
    assert prompts.NARROWED.format(n=1, what=f"sources: {HOTLINE_DOC}") in only.notes
    elsewhere = assistant.ask(CRIME_Q, narrow=SourceFilter.parse(sources=others))
    assert {h.chunk.source for h in elsewhere.passages} <= set(others)
    assert all(c.source != HOTLINE_DOC for c in elsewhere.citations)
    future = assistant.ask(HOTLINE_Q, narrow=SourceFilter.parse(since="2030"))
    assert future.abstained and future.passages == []
    assert prompts.NOTHING_MATCHES.format(what="since 2030") in future.notes
    hits = assistant.search("hotline calls", 5, narrow=SourceFilter.parse(sources=others))
    assert hits.hits and {h.chunk.source for h in hits.hits} <= set(others)


def test_cli_narrowing(seed_config, assistant) -> None:
    other = next(d.source for d in assistant.documents if d.source != HOTLINE_DOC)
    done = run_rag(["search", "hotline calls", "--source", other, "--json"], seed_config.root)
    assert done.returncode == 0, done.stderr
    assert {h["source"] for h in json.loads(done.stdout)["hits"]} == {other}
    bad = run_rag(["ask", HOTLINE_Q, "--since", "yesterday"], seed_config.root)
    assert bad.returncode == 2 and "since must be a date" in bad.stderr


def test_openai_endpoint_narrowing(assistant) -> None:
    openai = pytest.importorskip("openai")
    from rag.server.routes import create_app
    from tests.test_integrations import ThreadServer

    config = assistant.config.replace(rate_limit_per_minute=0)
    with ThreadServer(create_app(assistant, config)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": CRIME_Q}]
        reply = client.chat.completions.create(
            model="rag", messages=messages, extra_body={"rag": {"sources": [HOTLINE_DOC]}}
        )
        assert {c["source"] for c in reply.model_extra["rag"]["citations"]} == {HOTLINE_DOC}
        with pytest.raises(openai.BadRequestError, match="rag.sources"):
            client.chat.completions.create(
                model="rag", messages=messages, extra_body={"rag": {"sources": HOTLINE_DOC}}
            )
