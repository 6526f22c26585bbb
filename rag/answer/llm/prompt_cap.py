"""A shorter prompt for the local model: each source cut to the sentences the question
needs, its number kept, within ``llm_prompt_chars`` characters of sources.

A small CPU model spends almost all of its time to first token reading the prompt
(SmolLM2-135M: a few hundred tokens per second on 2 cores), and whole chunks are
mostly sentences the question does not touch. The answer chain builds the prompt
(:func:`rag.answer.generative.draft_messages`: system, sources, acknowledgement,
question); this module rewrites only the sources turn, keeping each source's ``[n]``
and title, so the model's markers still point at the same sources and the verification
(which checks the draft against the full retrieved chunks) is unchanged.

Which sentences: those sharing a content word with the question (stemmed, stopwords
out), each word weighted by how rare it is among the sources' sentences, the source's
own title words not counted (every chunk of a document repeats them, and the title is in
the source's header anyway); heading lines are left out. At most :data:`PER_SOURCE` of
them, in document order; sources are filled in rank order until the character budget is
spent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from rag import prompts
from rag.answer.layout import is_heading_line
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
    split = [(n, title, _sentences(text)) for n, title, text in sources]
    weight = _rarity(wanted, [terms for _, _, sents in split for _, terms in sents])
    budget, items = max_chars, []
    for n, title, sents in split:
        here = {t: w for t, w in weight.items() if t not in set(tokenize(title))}
        kept = _needed_sentences(sents, here, budget)
        if not kept:
            break
        budget -= len(kept)
        items.append(prompts.SOURCE_ITEM.format(n=n, title=title, text=kept))
    if not items:
        return msgs
    sources_turn = prompts.SOURCES_BLOCK.format(sources="\n\n".join(items))
    return _one_turn(msgs, at, sources_turn)


def _one_turn(msgs: list[tuple[str, str]], at: int, sources_turn: str) -> list[tuple[str, str]]:
    """The capped sources and the question in one user turn, the acknowledgement between
    them dropped: with a short sources turn, a small model answers the acknowledgement
    ("I have read the sources. What is your question?") instead of the question."""
    rest = msgs[at + 1 :]
    if len(rest) >= 2 and rest[0] == ("assistant", prompts.SOURCES_READ) and rest[1][0] == "user":
        return [*msgs[:at], ("user", f"{sources_turn}\n\n{rest[1][1]}"), *rest[2:]]
    return [*msgs[:at], ("user", sources_turn), *rest]


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


def _sentences(text: str) -> list[tuple[str, set[str]]]:
    """The sentences of a source's text with their terms, heading lines left out (a
    Markdown heading or a short line without a full stop names a section, it does not
    answer)."""
    body = "\n".join(line for line in text.split("\n") if not is_heading_line(line.strip()))
    spans = sentence_spans(body) or [(0, len(body))]
    sents = [body[a:b].strip() for a, b in spans]
    return [(s, set(tokenize(s))) for s in sents if s]


def _rarity(wanted: set[str], sentences: list[set[str]]) -> dict[str, float]:
    """Each question term's weight over the sentences' term sets:
    log(1 + n / (1 + the sentences holding it))."""
    n = len(sentences) or 1
    return {t: math.log(1 + n / (1 + sum(t in ts for ts in sentences))) for t in sorted(wanted)}


def _needed_sentences(
    sents: list[tuple[str, set[str]]], weight: dict[str, float], budget: int
) -> str:
    """The sentences sharing a word with the question, the rarest-worded first, within
    ``budget`` characters (the best one alone when none fits with the others); "" when
    none fits."""
    if not sents:
        return ""
    scores = [sum(w for t, w in weight.items() if t in terms) for _, terms in sents]
    texts = [s for s, _ in sents]
    best = max(range(len(texts)), key=lambda i: scores[i])
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))
    keep: set[int] = set()
    used = 0
    for i in order:
        if (scores[i] == 0 and keep) or len(keep) == PER_SOURCE:
            break
        if used + len(texts[i]) + 1 > budget:
            continue
        keep.add(i)
        used += len(texts[i]) + 1
    if not keep and len(texts[best]) <= budget:
        keep = {best}
    return " ".join(texts[i] for i in sorted(keep))
