"""Verification of generative drafts: a sentence that only echoes a source's title or
lead, or copies a source in parentheses, is not an answer (issue 15, part 3).

The defect, seen with SmolLM2 on the seeds: "How many hotline calls…" came back as
"The border guards made 113 hotline calls in 2025 [1]. (Border guard forces from the
northern province of Lạng Sơn and China's Guangxi Zhuang Autonomous Region held talks
in…) [2]." The second sentence is the cited document's title, and verification kept it
as a cited claim. Here the echoes are built from the passages the real index retrieves
(their real titles and leads), verified with the real embedding model; then the same
draft goes through the answer chain, and a real SmolLM2 answers in a child process.
"""

from __future__ import annotations

import pytest

from rag.answer.assistant import Assistant
from rag.answer.citations import Source, echo_kind, split_claims, verify
from rag.text import sentence_spans
from tests.test_llm_backends import FAST, HOTLINE_Q, ScriptedLLM, check_contract, with_llm

ANSWER = "The border guards made 113 hotline calls in 2025"
# Worded with the provinces, so that the article's first chunk (its lead) is retrieved.
NAMED_Q = "How many hotline calls did the border guards of Lạng Sơn and Guangxi make in 2025?"


def retrieved(bot: Assistant, question: str) -> tuple[list[Source], dict[str, str]]:
    """The sources the generative path numbers for ``question``, and their documents."""
    found = bot._search(question, bot.config.k, parts=True)
    return [Source(h.rank, h.chunk, h.score) for h in found.hits], bot._texts(found.hits)


def lead_of(text: str) -> str:
    a, b = sentence_spans(text)[0]
    return text[a:b]


def answering(sources: list[Source], texts: dict[str, str]) -> Source:
    """The retrieved source that holds the asked figure (its title and lead echo)."""
    return next(s for s in sources if "113 hotline calls" in texts[s.chunk.doc_id])


def test_title_and_lead_echoes_are_dropped_and_the_answer_kept(assistant: Assistant) -> None:
    sources, texts = retrieved(assistant, NAMED_Q)
    src = answering(sources, texts)
    lead = lead_of(texts[src.chunk.doc_id])
    assert any(s.chunk.start == 0 for s in sources), "the article's lead chunk is retrieved"
    drafts = {
        "parenthesised title": f"{ANSWER} [1]. ({src.chunk.doc_title}) [{src.n}].",
        "bare title": f"{ANSWER} [1]. {src.chunk.doc_title} [{src.n}].",
        "parenthesised lead": f"{ANSWER} [1]. ({lead.rstrip('.')}) [{src.n}].",
        "bare lead": f"{ANSWER} [1]. {lead} [{src.n}].",
    }
    for what, draft in drafts.items():
        old = verify(draft, sources, texts, assistant.checker)
        assert old.kept == 2, f"the defect: without the echo check the {what} is kept"
        new = verify(draft, sources, texts, assistant.checker, drop_echoes=True)
        assert new.kept == 1 and len(new.echoes) == 1, (what, new.text)
        assert new.text == f"{ANSWER} [1].", what
        assert [c.n for c in new.citations] == [1]
        assert "113 hotline calls" in new.citations[0].quote
        assert (
            new.citations[0].quote
            == texts[src.chunk.doc_id][new.citations[0].start : new.citations[0].end]
        )


def test_a_title_copied_above_or_into_a_sentence_is_taken_out(assistant: Assistant) -> None:
    """Forms seen with SmolLM2 on the suite: the source's header copied above the answer
    (bare and in parentheses, on lines of their own or not) is taken out and the answer
    kept; a title put where the asked value should be drops the sentence."""
    sources, texts = retrieved(assistant, NAMED_Q)
    title = answering(sources, texts).chunk.doc_title
    for draft in (
        f"{title}\n ({title})\n{ANSWER} [1].",
        f"({title}) {ANSWER} [1].",
        f"({title})\n{ANSWER} [1].",
    ):
        new = verify(draft, sources, texts, assistant.checker, drop_echoes=True)
        assert new.text == f"{ANSWER} [1].", (draft, new.text)
        assert new.echoes and all(title.rstrip("…") in e or e in title for e in new.echoes)
    slot = f"The hotline calls were made at ({title}) [1]."
    assert echo_kind(slot, sources, texts) == "title"
    new = verify(slot, sources, texts, assistant.checker, drop_echoes=True)
    assert new.kept == 0 and not new.citations


def test_a_lead_that_answers_or_a_short_claim_from_title_words_is_kept(
    assistant: Assistant,
) -> None:
    """A lead can answer ("where were the talks held?"): alone it stays, cited. A short
    claim that takes its words from the title is not a copy of it."""
    sources, texts = retrieved(assistant, NAMED_Q)
    src = answering(sources, texts)
    lead = lead_of(texts[src.chunk.doc_id])
    assert echo_kind(lead, sources, texts) == "lead"
    alone = verify(f"{lead} [{src.n}]", sources, texts, assistant.checker, drop_echoes=True)
    assert alone.kept == 1 and not alone.echoes and alone.citations
    short = "The border guards of Lạng Sơn and Guangxi held talks in Lạng Sơn"
    assert echo_kind(short, sources, texts) == ""
    kept = verify(f"{short} [{src.n}].", sources, texts, assistant.checker, drop_echoes=True)
    assert kept.kept == 1 and kept.citations


def test_an_answer_sentence_or_an_aside_of_other_words_is_not_an_echo(
    assistant: Assistant,
) -> None:
    sources, texts = retrieved(assistant, NAMED_Q)
    assert echo_kind(ANSWER, sources, texts) == ""
    assert echo_kind("(The figure covers the whole year.)", sources, texts) == ""
    title = answering(sources, texts).chunk.doc_title
    assert echo_kind(f"({title})", sources, texts) == "title"


def test_the_chain_drops_the_echo_of_the_issue_s_draft(assistant, monkeypatch) -> None:
    """The issue's draft, streamed as a model would write it, through the generative path
    over the real index: the verified answer keeps the figure and cites it, once."""
    sources, texts = retrieved(assistant, NAMED_Q)
    title = answering(sources, texts).chunk.doc_title
    draft = f"{ANSWER} [1]. ({title}) [2]."
    llm = ScriptedLLM(*[draft[i : i + 7] for i in range(0, len(draft), 7)])
    bot = with_llm(assistant, llm, monkeypatch)
    answer = bot.ask(NAMED_Q, backend="llamacpp")
    assert llm.calls, "the model was asked"
    check_contract(answer, bot)
    assert not answer.abstained
    claims = split_claims(answer.answer)
    assert [c.text for c in claims] == [f"{ANSWER}."]
    assert "113 hotline calls" in answer.citations[0].quote


@pytest.mark.llm
@pytest.mark.slow
def test_smollm2_answers_keep_no_echo(assistant: Assistant) -> None:
    """A real SmolLM2 in its child process: whatever it writes, no verified answer keeps
    a title or parenthesised echo, nor a lead repeated next to another sentence."""
    bot = Assistant(assistant.parts)
    for question in (HOTLINE_Q, NAMED_Q):
        answer = bot.ask(question, backend="llamacpp", **FAST)
        assert answer.backend == "llamacpp", answer.notes
        check_contract(answer, bot)
        if answer.abstained:
            continue
        sources = [Source(h.rank, h.chunk, h.score) for h in answer.passages]
        texts = bot._texts(answer.passages)
        kinds = [echo_kind(c.text, sources, texts) for c in split_claims(answer.answer)]
        assert "title" not in kinds and "passage" not in kinds, answer.answer
        assert "lead" not in kinds or len(kinds) == 1, answer.answer
