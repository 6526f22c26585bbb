"""Follow-up questions: rewrite them into standalone questions before retrieval.

Generative backends ask their model (see :data:`rag.prompts.CONDENSE_PROMPT`);
the extractive backend carries the previous question's topic with this heuristic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .text import tokenize

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


def condense_heuristic(question: str, turns: Sequence[Turn]) -> str:
    """Standalone form of a follow-up: the question plus the previous question as context."""
    if not turns or not is_followup(question):
        return question
    prev = turns[-1].standalone or turns[-1].question
    prev = re.sub(r"\s*\(context: .*\)\s*$", "", prev)
    q = _LEADING.sub("", question).strip()
    q = q[:1].upper() + q[1:]
    return f"{q} (context: {prev.strip()})"
