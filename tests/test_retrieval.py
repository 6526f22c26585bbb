"""Hybrid retrieval over the real seed index, on both vector stores (FAISS, Milvus Lite)."""

from __future__ import annotations

import pytest

from rag.errors import QueryError
from rag.retrieve.retriever import rrf, sub_queries

# (question, a verbatim piece of the passage that answers it)
FACT_QUESTIONS = [
    ("How many hotline calls did the border guards make?", "making 113 hotline calls"),
    ("Who was the head of the Chinese delegation?", "head of the Chinese delegation"),
    ("Which freight route should be formally launched?", "Tân Thanh–Pò Chài freight route"),
    ("How many border crime cases were handled during the year?", "handled 221 border crime cases"),
    ("Who commands the Lạng Sơn Border Guard Command?", "Colonel Đào Quốc Thạo"),
    (
        "Which border gate should be upgraded to an international one?",
        "upgrading the Chi Ma – Ai Dian",
    ),
    ("How many Vietnamese visitors did Guangxi host?", "roughly 150,000 Vietnamese visitors"),
    ("Where will the 17th meeting take place?", "the 17th meeting in Nanning"),
    ("Which passenger train was restored?", "Hà Nội–Nanning passenger train"),
    ("At which crossing should operating hours be extended?", "Cốc Nam – Nong Yao crossing"),
    ("How many official letters were exchanged?", "exchanging 679 official letters"),
    (
        "Who is the chairman of Guangxi?",
        "Wei Tao, Deputy Secretary of the Party Committee and Chairman",
    ),
    ("What did Lạng Sơn invite Guangxi firms to invest in?", "renewable energy, agro-forestry"),
    (
        "When will Guangxi's smart gate components start pilot operation?",
        "pilot operation by year-end",
    ),
]


@pytest.mark.parametrize(("question", "evidence"), FACT_QUESTIONS)
def test_right_passage_in_top_3(store_assistant, question: str, evidence: str) -> None:
    hits = store_assistant.search(question, 3).hits
    assert any(evidence in h.chunk.text for h in hits), [h.chunk.text[:80] for h in hits]


@pytest.mark.parametrize(
    ("query", "evidence"),
    [
        (
            "Huu Nghi Youyi Guan pilot smart border gate",
            "Hữu Nghị–Youyi Guan international border gate pair",
        ),
        ("Tan Thanh Po Chai", "Tân Thanh–Pò Chài"),
        ("Dao Quoc Thao", "Colonel Đào Quốc Thạo"),
        ("Coc Nam Nong Yao", "Cốc Nam – Nong Yao"),
        ("nguyen canh toan", "Nguyễn Cảnh Toàn"),
    ],
)
def test_queries_without_diacritics_match(store_assistant, query: str, evidence: str) -> None:
    top = store_assistant.search(query, 3, hybrid=True).hits
    assert any(evidence in h.chunk.text for h in top)
    lexical = store_assistant.search(query, 3, lexical_only=True).hits
    assert lexical and evidence in lexical[0].chunk.text  # BM25 alone matches the folded terms
    assert lexical[0].bm25_score > 0


def test_hits_carry_all_scores_and_offsets(store_assistant) -> None:
    result = store_assistant.search("smart border gates", 5)
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert result.hits == sorted(result.hits, key=lambda h: -h.score)
    for h in result.hits:
        doc = store_assistant.document(h.chunk.source)
        assert doc.text[h.chunk.start : h.chunk.end] == h.chunk.text
        assert -1.0 <= h.dense_score <= 1.0 and h.bm25_score >= 0 and h.score > 0
    for stage in ("embed", "dense", "bm25", "fusion", "total"):
        assert result.timings_ms[stage] >= 0


def test_dense_only_and_lexical_only_differ_from_hybrid(store_assistant) -> None:
    q = "How many hotline calls did the border guards make?"
    dense = store_assistant.search(q, 5, hybrid=False).hits
    assert all(h.score == pytest.approx(h.dense_score, abs=1e-6) for h in dense)
    lexical = store_assistant.search(q, 5, lexical_only=True).hits
    assert all(h.score == pytest.approx(h.bm25_score, abs=1e-4) for h in lexical)


def test_rrf_rewards_agreement() -> None:
    import numpy as np

    fused = rrf([np.array([1, 2, 3]), np.array([3, 1, 4])], k=60)
    assert max(fused, key=fused.get) == 1
    assert fused[3] > fused[2] and 4 in fused


@pytest.mark.parametrize("query", ["", "   \n\t ", "x" * 100_000])
def test_bad_queries_are_rejected(store_assistant, query: str) -> None:
    with pytest.raises(QueryError):
        store_assistant.search(query, 3)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "What was proposed at the border guard talks and at the leaders' talks?",
            ["What was proposed at the border guard talks", "the leaders' talks?"],
        ),
        (
            "When were the review talks and the talks between the chairmen held?",
            ["When were the review talks", "the talks between the chairmen held?"],
        ),
        (
            "Where were the talks held, and which city will host the 17th meeting?",
            ["Where were the talks held", "which city will host the 17th meeting?"],
        ),
        ("How many hotline calls and official letters were there?", []),
        ("Who headed the Vietnamese and the Chinese delegation?", []),
        ("How many talks did the two sides hold?", []),
    ],
)
def test_two_event_questions_are_split(question: str, parts: list[str]) -> None:
    assert sub_queries(question) == parts
