"""Follow-up questions: rewrite them into standalone questions before retrieval.

Generative backends ask their model (see :data:`rag.prompts.CONDENSE_PROMPT`);
the extractive backend carries the previous question's topic with this heuristic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.answer.citations import strip_markers
from rag.answer.spans import value_spans
from rag.text import tokenize

_FOLLOWUP = re.compile(
    r"^\s*(and|also|but|so|then|what about|how about|and what about)\b|"
    r"\b(he|she|they|them|his|her|hers|their|theirs|it|its|that one|those|these|the other|"
    r"the same|there|this|that)\b",
    re.I,
)
_LEADING = re.compile(r"^\s*(and|also|but|so|then)\s*,?\s+", re.I)


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange of a conversation."""

    question: str
    answer: str = ""
    standalone: str = ""


def normalize_history(history: Sequence[Any] | None) -> list[Turn]:
    """Accept OpenAI-style messages, (question, answer) pairs or :class:`Turn` s."""
    turns: list[Turn] = []
    pending: str | None = None
    for item in history or []:
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, dict):
            role, content = item.get("role"), _text(item.get("content"))
            if role == "user":
                if pending is not None:
                    turns.append(Turn(pending))
                pending = content
            elif role == "assistant" and pending is not None:
                turns.append(Turn(pending, content, str(item.get("standalone", "") or "")))
                pending = None
        elif isinstance(item, list | tuple) and len(item) >= 1:
            turns.append(Turn(_text(item[0]), _text(item[1]) if len(item) > 1 else ""))
    if pending is not None:
        turns.append(Turn(pending))
    return [t for t in turns if t.question.strip()]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio "messages" content parts
        return " ".join(_text(c.get("text", "") if isinstance(c, dict) else c) for c in content)
    return "" if content is None else str(content)


def is_followup(question: str) -> bool:
    """Does the question lean on the conversation ("And how many...", "Who headed the other...")?"""
    return bool(_FOLLOWUP.search(question)) or len(tokenize(question)) <= 2


_PERSONAL = re.compile(r"\b(he|she|him|his|her|hers)\b", re.I)


def people(text: str) -> list[str]:
    """Person names in ``text`` ("Mayor Helen Ostrander", "Zhu Xingan"), from the general
    span typing of :mod:`rag.answer.spans` (runs of capitalised words that are not an
    organisation or a place), in order of appearance."""
    found = [s.text for s in value_spans(strip_markers(text)) if s.kind == "person"]
    return list(dict.fromkeys(found))


def condense_heuristic(question: str, turns: Sequence[Turn]) -> str:
    """Standalone form of a follow-up: the question plus what it refers back to.

    The context is the previous standalone question (so chains of follow-ups keep
    their topic) and, for "he"/"she", the person the previous answer was about.
    """
    if not turns or not is_followup(question):
        return question
    prev = turns[-1].standalone or condense_heuristic(turns[-1].question, turns[:-1])
    m = _CONTEXT.search(prev)
    context = [_CONTEXT.sub("", prev).strip()]
    if m:  # keep the topic of a chain of follow-ups
        context += [c for c in m.group(1).split("; ") if c][:2]
    if _PERSONAL.search(question):
        named = [p for p in people(turns[-1].answer) if p not in prev]
        context += named[:1]
    q = _LEADING.sub("", question).strip()
    q = q[:1].upper() + q[1:]
    return f"{q} (context: {'; '.join(context)})"


_CONTEXT = re.compile(r"\s*\(context: (.*)\)\s*$")


def split_context(standalone: str) -> tuple[str, str]:
    """("How many were prosecuted?", "How many cases ...") from a heuristic rewrite."""
    m = _CONTEXT.search(standalone)
    if not m:
        return standalone, ""
    return standalone[: m.start()].strip(), m.group(1)
