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
from rag.text import sentence_spans, tokenize

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
    swapped = parallel_slot(q, context[0])
    if swapped:  # a whole question: the previous one's other slot would only mislead
        return swapped
    q = resolve_references(q, context[0], turns[-1].answer)
    given = previous_amount(turns[-1].answer)
    if given and _AMOUNT_ASKED.match(q) and given not in context:
        # "And how many were upheld?" after "534 complaints": that amount is not the answer
        # again (a value the question's context states is no answer to it)
        context.append(given)
    return f"{q} (context: {'; '.join(context)})"


_AUX = (
    r"is|are|was|were|will|would|can|could|should|shall|may|might|must|do|does|did|"
    r"has|have|had"
)
_WH_FRAGMENT = re.compile(
    rf"^(how many|how much|which|what)\s+((?:(?!(?:{_AUX})\b)[\w'&.-]+\s*){{1,3}})\?*\s*$",
    re.I,
)
"""A follow-up that is only a question word and the thing asked ("How many businesses?")."""
_WH_HEAD = re.compile(
    rf"^(how many|how much|which|what)\s+((?:(?!(?:{_AUX})\b)[\w'&.-]+\s+){{1,3}}?)(?=(?:{_AUX})\b)",
    re.I,
)
"""The question word and the thing asked at the start of a question, up to its verb
("How many homes | will the flood scheme protect?")."""
_DEFINITE = re.compile(r"\b(that|this|the same|the)\s+([a-z][\w-]*)\b(?!\s+(?:of|'s)\b)", re.I)
_WHICH_NOUN = re.compile(r"^\s*(?:which|what)\s+([a-z][\w-]*)\b", re.I)
_DETERMINER = frozenset({"the", "a", "an", "this", "that", "its", "their", "his", "her"})


def resolve_references(question: str, previous: str, previous_answer: str = "") -> str:
    """The follow-up with what it points back to written out, the same way for any
    documents: a bare "And how many businesses?" takes the rest of the previous question
    ("How many businesses will the flood scheme protect?"); "that firm", after "Which firm
    won ...?", becomes the firm the previous answer named; "the board" or "that committee"
    becomes the previous question's longer name for it ("the Calder Bay Fisheries Board");
    "its" and "does that ..." become the name the previous question ends on
    (:func:`with_named_referent`). Other pronouns stay (they are carried as context):
    guessing their referent costs more than it gains."""
    frag = _WH_FRAGMENT.match(question)
    head = _WH_HEAD.match(previous)
    if frag and head and frag.group(1).lower() == head.group(1).lower():
        rest = previous[head.end() :].strip()
        return f"{frag.group(1)} {frag.group(2).strip(' ?')} {rest}"
    which = _WHICH_NOUN.match(previous)
    named = answer_value(previous_answer) or _sole_entity(previous_answer, previous)

    def expand(m: re.Match[str]) -> str:
        noun = m.group(2)
        if (
            m.group(1).lower() != "the"
            and which
            and named
            and which.group(1).lower() == noun.lower()
        ):
            return named  # "that firm" after "Which firm ...?": the firm named
        longer = _longer_name(noun, previous)
        return longer if longer and len(longer.split()) > 2 else m.group(0)

    question = _DEFINITE.sub(expand, question)
    question = with_named_referent(question, previous)
    role, body = _ROLE_OF.match(question), _WHO_HEADS.match(previous)
    if role and body:  # "And who is her vice-chair?" after "Who chairs the X Committee?"
        return f"{role.group(1)} of {body.group(1)}?"  # the X Committee's, not another's
    return question


_PREPS = r"on|in|for|at|under|during|from|with|by|before|after|since|until"
_PREP_FRAGMENT = re.compile(rf"^(?:(?:what|how) about\s+)?({_PREPS})\s+([^?]+?)\s*\?*\s*$", re.I)
"""A follow-up that is one prepositional phrase ("And on New Year's Eve?", "In 2013?")."""
_ONE_FRAGMENT = re.compile(r"^(?:(?:what|how) about\s+)?the\s+(\w+)\s+one\s*\?*\s*$", re.I)
"""A follow-up that swaps the rank of the thing asked about ("And the last one?")."""
_RANK_WORD = re.compile(
    r"\bthe\s+(first|last|next|previous|second|third|fourth|fifth|latest|earliest|"
    r"[a-z]+est)\b",
    re.I,
)


def parallel_slot(question: str, previous: str) -> str:
    """The previous question with the slot the follow-up fills swapped for it, or "":
    "On New Year's Eve?" after "When does the last tram leave on weekdays?" asks "When
    does the last tram leave on New Year's Eve?" (the last phrase with the same
    preposition); "The last one?" after "When does the first bus leave?" asks "When does
    the last bus leave?". Grammar only: the same preposition, or a rank word after
    "the"; the previous question keeps everything else it asked."""
    body = previous.rstrip()
    one = _ONE_FRAGMENT.match(question)
    if one:
        ranks = list(_RANK_WORD.finditer(body))
        if not ranks or ranks[-1].group(1).lower() == one.group(1).lower():
            return ""
        r = ranks[-1]
        return f"{body[: r.start(1)]}{one.group(1)}{body[r.end(1) :]}"
    frag = _PREP_FRAGMENT.match(question)
    if not frag:
        return ""
    prep = frag.group(1).lower()
    slots = list(re.finditer(rf"\b{prep}\s+(.+?)(?=\s+(?:{_PREPS})\b|\s*[?,;.]|\s*$)", body, re.I))
    if not slots:
        return ""
    m = slots[-1]
    return f"{body[: m.start(1)]}{frag.group(2)}{body[m.end(1) :]}"


_NAMED = re.compile(
    r"(?<!^)(?<![.?!]\s)\b((?:the\s+)?(?:[A-Z][\w&'-]*\s+)*[A-Z][\w&'-]*(?:\s+\d[\w.]*)?)"
    r"(?:\s+([a-z]{3,}))?(?=\s*[?.,;]|\s*$)"
)
"""A name that ends the previous question ("... of Larchvault 4.2?", "... is the Business
licence?"), with a version or code after it and, after "the", the noun it names."""
_ITS = re.compile(r"^((?:(?!\b(?:the|a|an)\b)[^,;])*?)\bits\b(?!\s+own\b)", re.I)
"""A possessive "its" with no noun phrase before it in the question (there it would point
at that one: "the heat pump ... on its own")."""
_THAT_VERB = re.compile(r"\b(does|do|did|will|can|would)\s+(?:that|it)\b(?=\s+[a-z])")


def with_named_referent(question: str, previous: str) -> str:
    """A follow-up's "its" and "does that/it ..." written out as the name the previous
    question ends with ("And when did its first maintenance release come out?" after
    "What's the release date of Larchvault 4.2?" -> "... did Larchvault 4.2's first ...";
    "How many agents does that cover?" after "How much is the Business licence?" ->
    "... does the Business licence cover?"). Only a name: a pronoun for a thing the
    previous question named in lower case ("quiet mode") stays, carried as context."""
    m = _NAMED.search(previous.rstrip())
    if not m or not (_ITS.search(question) or _THAT_VERB.search(question)):
        return question
    name = m.group(1) + (f" {m.group(2)}" if m.group(2) and m.group(1).startswith("the ") else "")
    if not m.group(1).startswith("the ") and m.group(2):
        return question  # "... Larchvault agents?": the name is not what the question ends on
    question = _ITS.sub(lambda i: f"{i.group(1)}{name}'s", question, count=1)
    return _THAT_VERB.sub(lambda v: f"{v.group(1)} {name}", question)


_ROLE_OF = re.compile(
    r"^(who\s+(?:is|was|are|were)\s+(?:her|his|their)\s+[\w-]+(?:\s+[\w-]+)?)\s*\?\s*$", re.I
)
"""A follow-up asking for a post next to the person just named, with no body of its own."""
_WHO_HEADS = re.compile(
    r"^\s*who\s+(?!(?:is|was|are|were)\b)[a-z]+\s+(the\s+(?:[\w'&-]+\s+){0,6}?[\w'&-]+)\s*\?\s*$",
    re.I,
)
"""A question for whoever holds a post in a body ("Who chairs the Finance and Audit
Committee?"): the body."""


def _longer_name(noun: str, text: str) -> str | None:
    """The phrase of ``text`` that ends in ``noun`` and starts at "the" ("the Calder Bay
    Fisheries Board" for "board"), at most five words before the noun."""
    words = text.rstrip("?.! ").split()
    for i, w in enumerate(words):
        if w.strip("?,.;:").lower() != noun.lower():
            continue
        for j in range(i - 1, max(-1, i - 6), -1):
            if words[j].lower() in _DETERMINER:
                if words[j].lower() != "the":
                    return None
                return " ".join(words[j : i + 1]).strip("?,.;:")
            if not re.fullmatch(r"[\w'&-]+", words[j]):
                return None
    return None


_AMOUNT_ASKED = re.compile(
    r"^\s*(?:how\s+(?:many|much)|what\s+(?:share|percentage|proportion))\b", re.I
)
_AMOUNT_KINDS = frozenset({"number", "quantity", "money", "percent"})


def previous_amount(answer: str) -> str:
    """The one amount the previous answer gave ("2,874 babies", "2.4 million euros"): the
    longest amount span of its first sentence holding its number; "" when it gives none
    or several different numbers."""
    text = strip_markers(answer)
    lead = answer_value(text)
    first = sentence_spans(text)[:1]
    head = text[first[0][0] : first[0][1]] if first else text
    spans = [s for s in value_spans(head) if s.kind in _AMOUNT_KINDS]
    numbers = {re.sub(r"\D", "", s.text) or s.text.lower().split()[0] for s in spans}
    if lead:
        spans = [s for s in spans if lead in s.text or s.text in lead] or spans
        numbers = {re.sub(r"\D", "", s.text) or s.text.lower().split()[0] for s in spans}
    if len(numbers) != 1:
        return ""
    return max((s.text for s in spans), key=len)


def _sole_entity(answer: str, question: str) -> str:
    """The one person or organisation the answer's first sentence names that the
    question does not ("" when it names none or several)."""
    text = strip_markers(answer)
    first = sentence_spans(text)[:1]
    head = text[first[0][0] : first[0][1]] if first else text
    found = {s.text for s in value_spans(head) if s.kind in {"org", "person"}}
    found = {f for f in found if f not in question}
    return found.pop() if len(found) == 1 else ""


def answer_value(answer: str) -> str:
    """The value an answer leads with ("Corrie Brothers Roofing" in "Corrie Brothers Roofing
    — the contract ... [1]."): the words before the dash of a value-first answer, else ""."""
    head, dash, _ = strip_markers(answer).partition(" — ")
    head = head.strip()
    return head if dash and 0 < len(head.split()) <= 6 else ""


_CONTEXT = re.compile(r"\s*\(context: (.*)\)\s*$")


def split_context(standalone: str) -> tuple[str, str]:
    """("How many were prosecuted?", "How many cases ...") from a heuristic rewrite."""
    m = _CONTEXT.search(standalone)
    if not m:
        return standalone, ""
    return standalone[: m.start()].strip(), m.group(1)
