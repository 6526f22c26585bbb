"""The generative path of the answer chain: the LLM's prompt and its streamed draft.

:class:`rag.answer.assistant.Assistant` asks an LLM backend (when one is set) for two
things, both here: a follow-up rewritten to stand alone (:func:`condense`), and a draft
answer citing numbered sources (:func:`stream_draft`, over :func:`sources_for` and
:func:`draft_messages`). What comes back is unverified: the assistant verifies the
draft against the retrieved passages, abstains, or falls back to the extractive
backend; this module only talks to the model and cleans what it says. Split from the
assistant so that module holds the chain's order and state.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import replace

from rag import prompts
from rag.answer.citations import Source, strip_markers
from rag.answer.followup import Turn, split_context
from rag.answer.llm.backends import (
    ChatLLM,
    clean_draft,
    defuse,
    quarantine,
    says_not_in_sources,
    usable_rewrite,
    visible_draft,
)
from rag.answer.qtypes import unstated_numbers
from rag.errors import BackendError
from rag.ingest.dates import front_matter
from rag.types import Answer, Chunk, Hit


def condense(question: str, turns: Sequence[Turn], llm: ChatLLM, max_chars: int) -> str:
    """The follow-up ``question`` rewritten by ``llm`` to stand alone, from the last three
    turns; "" when its rewrite is not usable (:func:`rag.answer.llm.backends.usable_rewrite`)
    or the backend fails, and the caller's heuristic rewrites it instead. Only the first
    line is read: the stream is stopped there (or past ``max_chars``, 300 at most)."""
    recent = turns[-3:]
    history = "\n".join(
        f"User: {defuse(t.question)}\nAssistant: {defuse(strip_markers(t.answer)[:300])}"
        for t in recent
    )
    prompt = prompts.CONDENSE_PROMPT.format(history=history, question=defuse(question))
    limit = min(max_chars, 300)
    raw, stream = "", None
    try:
        stream = llm.stream_chat([("user", prompt)])
        for delta in stream:
            raw += delta
            if len(raw) > limit or (raw.strip() and "\n" in raw.lstrip()):
                break  # one line is all we use
    except BackendError:
        raw = ""
    finally:
        if hasattr(stream, "close"):
            stream.close()  # stop generating the rest
    context = [part for t in recent for part in (t.question, t.standalone, strip_markers(t.answer))]
    return usable_rewrite(raw, question, context, max_chars) or ""


def off_topic(
    question: str, hits: Sequence[Hit], texts: Mapping[str, str], min_relevance: float
) -> bool:
    """Should the LLM not be asked? No passage was retrieved or none is close enough in
    meaning (``min_relevance``), or the question asks about a year or number that no
    retrieved document (``texts``: their texts by id) mentions: a model asked anyway
    answers from what it knows."""
    return bool(
        not hits
        or max(h.dense_score for h in hits) < min_relevance
        or unstated_numbers(split_context(question)[0], " ".join(texts.values()))
    )


def sources_for(hits: Sequence[Hit], texts: Mapping[str, str]) -> list[Source]:
    """The numbered sources the LLM reads: each hit under its rank, its chunk's front
    matter left out (:func:`prose`)."""
    return [Source(h.rank, prose(h.chunk, texts[h.chunk.doc_id]), h.score) for h in hits]


def stream_draft(
    answer: Answer, llm: ChatLLM, sources: list[Source], max_tokens: int
) -> Generator[str, None, str | None]:
    """Ask ``llm`` for a cited answer to ``answer``'s question from ``sources``; yields the
    draft as it grows (reasoning, markers to sources that were not given, and
    half-written markers hidden) and returns it cleaned
    (:func:`rag.answer.llm.backends.clean_draft`): "" when nothing is left or the model
    says the sources do not answer, None when the backend failed (noted on ``answer``,
    which the caller answers extractively instead). The reply is cut at ``max_tokens``
    (16 at least) times 8 characters: a backend may ignore its token limit. Records
    the first token's and the whole draft's times on ``answer``."""
    messages = draft_messages(answer.standalone_question, sources)
    given = frozenset(s.n for s in sources)
    limit = max(max_tokens, 16) * 8  # characters; a backend may ignore max_tokens
    t0 = time.perf_counter()
    text = shown = ""
    stream = None
    cut = False
    try:
        stream = llm.stream_chat(messages)
        for delta in stream:
            if not text:
                answer.timings_ms["first_token"] = (time.perf_counter() - t0) * 1000
            text += delta
            if len(text) > limit:
                text, cut = text[:limit], True
            visible = visible_draft(text, given)
            if visible and visible != shown:
                shown = visible
                yield visible
            if cut:
                break
    except BackendError as exc:
        answer.timings_ms["generate"] = (time.perf_counter() - t0) * 1000
        answer.notes.append(prompts.FALLBACK_NOTE.format(backend=llm.name, reason=exc))
        answer.backend = f"extractive (fallback from {llm.name})"
        return None
    finally:
        if hasattr(stream, "close"):
            stream.close()  # stop the backend generating what nobody reads
    answer.timings_ms["generate"] = (time.perf_counter() - t0) * 1000
    draft = clean_draft(
        text,
        answer.standalone_question,
        [s.chunk.text for s in sources],
        truncated=True if cut else truncated(stream),
    )
    return "" if not draft or says_not_in_sources(text) else draft


def prose(chunk: Chunk, doc_text: str) -> Chunk:
    """``chunk`` without the document's Markdown front matter (``title:``/``date:``
    lines between ``---`` fences): it files the document, it is no source text, and a
    small model copies it ("date: 2025-12-31") or answers the scaffold instead."""
    end = front_matter(doc_text)[1]
    if chunk.start >= end:
        return chunk
    rest = doc_text[end : chunk.end]
    start = end + len(rest) - len(rest.lstrip())  # the prose after it, blank lines skipped
    return replace(chunk, start=start, text=doc_text[start : chunk.end])


def draft_messages(question: str, sources: Sequence[Source]) -> list[tuple[str, str]]:
    """Chat messages asking for a cited answer from numbered sources.

    Document text and the question are data: chat-template control tokens in them
    are made inert, sentences in sources that give orders to an assistant are left
    out (:func:`rag.answer.llm.backends.quarantine`), and the system prompt says sources are data.
    """
    block = "\n\n".join(
        prompts.SOURCE_ITEM.format(
            n=s.n, title=quarantine(s.chunk.doc_title), text=quarantine(s.chunk.text)
        )
        for s in sources
    )
    return [
        ("system", prompts.SYSTEM_PROMPT),
        ("user", prompts.SOURCES_BLOCK.format(sources=block)),
        ("assistant", prompts.SOURCES_READ),
        ("user", prompts.QUESTION_PROMPT.format(question=defuse(question))),
    ]


def truncated(stream: object) -> bool | None:
    """Did the reply stop at the token limit? None when the backend does not say."""
    reason = getattr(stream, "finish_reason", None)
    return None if reason is None else reason == "length"
