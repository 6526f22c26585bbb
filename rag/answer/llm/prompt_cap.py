"""A shorter prompt for the local model: each source cut to the sentences the question
needs, its number kept, within ``llm_prompt_chars`` characters of sources.

A small CPU model spends almost all of its time to first token reading the prompt
(SmolLM2-135M: a few hundred tokens per second on 2 cores), and whole chunks are
mostly sentences the question does not touch. The answer chain builds the prompt
(:func:`rag.answer.assistant._draft_messages`: system, sources, acknowledgement,
question); this module rewrites only the sources turn, keeping each source's ``[n]``
and title, so the model's markers still point at the same sources and the verification
(which checks the draft against the full retrieved chunks) is unchanged.

Which sentences: those sharing a content word with the question (stemmed, stopwords
out), at most :data:`PER_SOURCE` of them, in document order; sources are
filled in rank order until the character budget is spent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag import prompts
from rag.text import sentence_spans, tokenize

PER_SOURCE = 2  # sentences at most from each source: room for the lower-ranked ones
_HEAD = re.compile(r"^\[(\d+)\] \((.*?)\)\n", re.M)


def cap_prompt(messages: Sequence[tuple[str, str]], max_chars: int) -> list[tuple[str, str]]:
    """``messages`` with the sources turn cut to ``max_chars`` (0 or less: unchanged)."""
    msgs = list(messages)
    if max_chars <= 0:
        return msgs
    head = prompts.SOURCES_BLOCK.split("{sources}")[0]
    at = next((i for i, (r, t) in enumerate(msgs) if r == "user" and t.startswith(head)), None)
    if at is None:
        return msgs
    question = _question(msgs)
    sources = _split_sources(msgs[at][1][len(head) :])
    if not sources or sum(len(t) for _, _, t in sources) <= max_chars:
        return msgs
    wanted = set(tokenize(question))
    budget, items = max_chars, []
    for n, title, text in sources:
        kept = _needed_sentences(text, wanted, budget)
        if not kept:
            break
        budget -= len(kept)
        items.append(prompts.SOURCE_ITEM.format(n=n, title=title, text=kept))
    if not items:
        return msgs
    msgs[at] = ("user", prompts.SOURCES_BLOCK.format(sources="\n\n".join(items)))
    return msgs


def _question(msgs: Sequence[tuple[str, str]]) -> str:
    """The question of the last user turn (the part before the instructions)."""
    last = next((t for r, t in reversed(msgs) if r == "user"), "")
    head = prompts.QUESTION_PROMPT.split("{question}")[0]
    body = last[len(head) :] if last.startswith(head) else last
    return body.split("\n", 1)[0]


def _split_sources(block: str) -> list[tuple[str, str, str]]:
    """(number, title, text) of each ``[n] (title)`` item of the sources turn."""
    heads = list(_HEAD.finditer(block))
    out = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(block)
        out.append((m.group(1), m.group(2), block[m.end() : end].strip()))
    return out


def _needed_sentences(text: str, wanted: set[str], budget: int) -> str:
    """The sentences of ``text`` sharing a word with the question, within ``budget``
    characters (the best one alone when none fits with the others); "" when none fits."""
    spans = sentence_spans(text) or [(0, len(text))]
    sents = [text[a:b].strip() for a, b in spans if text[a:b].strip()]
    scores = [len(wanted & set(tokenize(s))) for s in sents]
    if not sents:
        return ""
    best = max(range(len(sents)), key=lambda i: scores[i])
    order = sorted(range(len(sents)), key=lambda i: (-scores[i], i))
    keep: set[int] = set()
    used = 0
    for i in order:
        if (scores[i] == 0 and keep) or len(keep) == PER_SOURCE:
            break
        if used + len(sents[i]) + 1 > budget:
            continue
        keep.add(i)
        used += len(sents[i]) + 1
    if not keep and len(sents[best]) <= budget:
        keep = {best}
    return " ".join(sents[i] for i in sorted(keep))
