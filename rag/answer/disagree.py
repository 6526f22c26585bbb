"""Disagreeing sources: when the sentences that answer a question give different values.

A corpus of many dated articles on one subject does not always agree: one report gives a
cost of £142 million, a later one £168 million; one spells a director "Halvorsen", another
"Halvorson". Picking one sentence silently hides that. This module finds it and says so,
citing each side, newest first::

    The sources disagree: source [1] (3 Mar 2026) gives £168 million; source [2]
    (20 Jan 2025) gives £142 million.

Detection is general span typing (:mod:`rag.answer.spans`), never words of one corpus:

1. The *supporting sentences* and the *answer value* each gives are those of
   :mod:`rag.answer.supporting`: the candidates that answer the question about as well as
   the best one, and in each the span of the asked kind nearest to the question's words.
2. Two values *conflict* (:func:`rag.answer.compare.conflict`) when they are of the same
   kind and unit but differ (£142 million vs £168 million; 30 April 2025 vs 28 March
   2025; a name spelt two ways for the same role), each sentence states only its own
   value, and they come from different documents (:func:`find`).

Used by :mod:`rag.answer.assistant` after the answer is built (extractive) or verified
(generative); the phrases are in :mod:`rag.prompts`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag import prompts
from rag.answer.compare import (
    MONEY_CUE,
    Value,
    asked_attribute,
    asked_money_cues,
    conflict,
    former,
    same_value,
    unit_key,
)
from rag.answer.extractive import Scored, count_focus, question_type
from rag.answer.followup import split_context
from rag.answer.spans import ANSWER_KINDS
from rag.answer.supporting import (
    answer_value,
    asked_type,
    role_terms,
    role_text,
    supporting_values,
)
from rag.answer.supporting import is_metadata as is_metadata  # re-exported for its callers
from rag.ingest.dates import MONTHS
from rag.text import fold, stem, tokenize
from rag.types import Answer, Citation, Hit

MAX_SIDES = 3
WIDER_SEARCH = 3  # the check reads k x this many passages: the other side may rank lower

DateOf = Callable[[str], str]
"""A document's publication date (ISO, or "" when unknown) by doc_id."""


@dataclass(frozen=True, slots=True)
class Side:
    """One value and the newest supporting sentence that gives it."""

    value: Value
    sentence: Scored
    date: str  # ISO publication date of the sentence's document ("" unknown)
    members: tuple[Scored, ...] = ()  # every supporting sentence that gives this value


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Two or more sides, newest first (undated last)."""

    sides: tuple[Side, ...]


class SharedSearch:
    """The wider search's passages, run once per question: the gate's disagreement draft
    (``Assistant._disputed``) keeps them and the check after the answer
    (``Assistant._dated``) takes them, instead of searching again. One is kept per thread,
    under a key naming all the search depends on (the question, its settings, the allowed
    documents, the loaded retriever); taking empties the slot, and a key that does not
    match is a miss (the caller searches): a stale result is never read."""

    def __init__(self) -> None:
        self._local = threading.local()

    def keep(self, key: tuple[Any, ...], hits: list[Hit]) -> None:
        """Keep ``hits`` for the next :meth:`take` of ``key`` on this thread."""
        self._local.last = (key, hits)

    def take(self, key: tuple[Any, ...]) -> list[Hit] | None:
        """The passages kept for ``key`` on this thread (None: none); the slot empties."""
        last, self._local.last = getattr(self._local, "last", None), None
        return last[1] if last is not None and last[0] == key else None


WIDER = SharedSearch()


# ---------------------------------------------------------------------------- detection


def applicable(question: str) -> bool:
    """Does the question ask for a value two sources could give differently (a figure,
    a date, a name, an attribute a figure measures)? "Why"/"how" questions are not
    checked (and no search is spent)."""
    primary = split_context(question)[0]
    return (
        asked_type(primary) in ANSWER_KINDS
        or bool(MONEY_CUE.search(primary))
        or asked_attribute(primary) is not None
    )


def find(
    question: str,
    candidates: Sequence[Scored],
    date_of: DateOf,
    cited: Callable[[Scored], bool] | None = None,
) -> Disagreement | None:
    """The sides of a disagreement among the supporting sentences, or None.

    Each supporting sentence gives its value nearest to the question's words; a sentence
    that repeats a date already seen gives its other date (a moved date: "was due to
    close on 28 March, has been extended to 30 April"). Sentences stating the same value
    form a group. The anchor is the group the answer cites (``cited``; else the best
    one); the sides are the anchor and the groups whose values conflict with it and
    with each other (other values are about something else). No document may give two
    sides' values (it lists them, it does not disagree), and only sides with a dated
    document count (newest first needs dates); each side is represented by its newest
    sentence. A question about one month ("the January meeting") reads only sentences
    about it (:func:`in_asked_month`), and a count of a qualified thing ("affordable
    homes") only groups that name the qualifier (:func:`_counts_the_asked`); for a money
    question, an amount is a side only where it is priced (:func:`_priced`).
    """
    primary = split_context(question)[0]
    month = asked_month(primary)
    groups: list[list[tuple[Value, Scored]]] = []
    for s, values in supporting_values(primary, candidates):
        if month and not in_asked_month(s, month, date_of):
            continue
        value = values[0]
        if value.kind == "date" and any(same_value(g[0][0], value) for g in groups):
            moved = [v for v in values[1:] if not any(same_value(g[0][0], v) for g in groups)]
            if moved and any(conflict(g[0][0], moved[0], primary) for g in groups):
                value = moved[0]  # a date moved: "was due on 28 March, has been extended to ..."
        same = next((g for g in groups if same_value(g[0][0], value)), None)
        if same is not None:
            same.append((value, s))
        else:
            groups.append([(value, s)])
    roles = role_terms(primary)
    groups = [g for g in groups if g[0][0].kind != "date" or _about_event(g, roles)]
    groups = [g for g in groups if _counts_the_asked(g, primary) and _priced(g, primary)]
    groups = _without_recalled(groups)
    anchors = [g for g in groups if cited is not None and any(cited(m) for _, m in g)]
    for anchor in anchors or groups[:1]:
        sides = [anchor]
        for g in groups:
            if g is not anchor and all(conflict(x[0][0], g[0][0], primary) for x in sides):
                sides.append(g)
        found = _sides(sides, date_of)
        if found is not None:
            return found
    return None


def _without_recalled(
    groups: list[list[tuple[Value, Scored]]],
) -> list[list[tuple[Value, Scored]]]:
    """The groups without the sentences in which an article recalls a former value it
    has replaced ("The original estimate was £310 million" in the article that says the
    hospital "will now cost £355 million"; "It had been due to open in March 2027"): that
    article gives the new value, and the old one is the older articles' side. A
    document that still gives two values after this lists them, and does not disagree
    (:func:`_sides`)."""
    gives: dict[str, set[int]] = {}  # document -> the groups it gives as a current value
    for i, g in enumerate(groups):
        for v, s in g:
            if not former(s.chunk.text, v.span):
                gives.setdefault(s.chunk.doc_id, set()).add(i)
    out = []
    for i, g in enumerate(groups):
        kept = [
            (v, s)
            for v, s in g
            if not (former(s.chunk.text, v.span) and gives.get(s.chunk.doc_id, set()) - {i})
        ]
        if kept:
            out.append(kept)
    return out


def _about_event(group: list[tuple[Value, Scored]], roles: frozenset[str]) -> bool:
    """Does a sentence of a date's group name the event the question asks about (a word of
    the question besides its names: "consultation", "close")? Every article is full of
    dates; one in a sentence about another event ("becomes project director on 2 February")
    is no side. True when the question has no such words."""
    if not roles:
        return True
    return any({stem(t) for t in tokenize(_outside_names(s.chunk.text))} & roles for _, s in group)


_PROPER_RUN = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:of\s+|the\s+|and\s+)?[A-Z][\w’'-]*)+")


def _outside_names(sentence: str) -> str:
    """``sentence`` without its runs of two or more capitalised words ("the Corliss Valley
    School District lifted its hiring freeze" -> "the lifted its hiring freeze"): a word
    inside a proper name names a body, not the event a date is of ("school" of a "school
    budget" vote is not in the name "Corliss Valley School District")."""
    return _PROPER_RUN.sub(" ", sentence)


_MONTH_ASKED = re.compile(
    r"\b(?:(?i:january|february|april|june|july|september|october|november|december)"
    r"|May|March|August)\b"  # lower-case "may", "march", "august" are other words
)


def asked_month(question: str) -> int | None:
    """The month (1-12) a question is about ("the january meeting", "in September 2024"),
    when it names exactly one; else None."""
    months = {MONTHS[m.group().lower()] for m in _MONTH_ASKED.finditer(question)}
    return months.pop() if len(months) == 1 else None


def in_asked_month(s: Scored, month: int, date_of: DateOf) -> bool:
    """Is ``s`` about the asked ``month``: it (or its heading) names the month, or its
    document is dated in it (minutes of the January meeting), or the date is unknown?
    Every month's report gives the month's figures; another month's is no side ("7 of
    the committee's 9 members" at the April meeting, for the January one)."""
    names = {name for name, i in MONTHS.items() if i == month}
    said = re.search(rf"\b(?:{'|'.join(names)})\b", s.chunk.text, re.I)
    if said or names & s.context:
        return True
    parts = date_of(s.chunk.doc_id).split("-")
    return len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) == month


def _counts_the_asked(group: list[tuple[Value, Scored]], question: str) -> bool:
    """Does a group of counts count the qualified thing the question asks about? For "how
    many affordable homes", a count in homes needs "affordable" in one of its sentences:
    "build 120 homes" and "protect 318 homes" count other homes, and do not disagree
    with each other. The qualifiers are the question's counted words before the unit;
    other values, and counts in another unit or with no qualifier asked, pass."""
    value = group[0][0]
    if value.kind != "quantity":
        return True
    focus = count_focus(question)
    unit = value.key[1]
    qualifiers = set(focus[: focus.index(unit)]) if unit in focus else set()
    return not qualifiers or any(
        qualifiers <= {unit_key(t) for t in tokenize(s.chunk.text)} | set(tokenize(s.chunk.text))
        for _, s in group
    )


_CLAUSE_END = re.compile(r"[,;:.!?](?:\s|$)")  # not the point or comma inside "£1.45"


def _priced(group: list[tuple[Value, Scored]], question: str) -> bool:
    """For a question about money ("how much ... cost / pay"): does a sentence of a group
    of amounts give its amount as what the question asks (one of the question's money
    words in the amount's own clause: "The cost of X has risen to £1.45 billion", "It is
    expected to cost £1.2 billion" for "how much will X cost")? "A transfer of 300,000
    euros from the reserve, out of which the council will pay its share" moves money, and
    "the whole scheme will cost 2.4 million" is not what one body will pay: neither is a
    rival. Other values and other questions pass."""
    cues = asked_money_cues(question)
    if group[0][0].kind != "money" or not cues:
        return True
    for value, s in group:
        text, span = s.chunk.text, value.span
        start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, span.start)), default=0)
        after = _CLAUSE_END.search(text, span.end)
        clause = text[start : span.start] + " " + text[span.end : after.start() if after else None]
        if cues & {stem(fold(m.group())) for m in MONEY_CUE.finditer(clause)}:
            return True
    return False


def _sides(sides: list[list[tuple[Value, Scored]]], date_of: DateOf) -> Disagreement | None:
    """The checked disagreement of ``sides`` (see :func:`find`), newest first, or None."""
    docs = [{s.chunk.doc_id for _, s in side} for side in sides]
    if len(sides) < 2 or any(a & b for i, a in enumerate(docs) for b in docs[i + 1 :]):
        return None  # a document giving two of the values lists them; it does not disagree
    sides = [side for side in sides if any(date_of(s.chunk.doc_id) for _, s in side)]
    if len(sides) < 2:
        return None  # which source is newer is unknown: no dated sides to set against
    out = []
    for side in sides[:MAX_SIDES]:
        value, sentence = max(side, key=lambda vs: (date_of(vs[1].chunk.doc_id), vs[1].score))
        if value.kind == "name":  # "Marit Halvorsen", not "Project Director Marit Halvorsen"
            value = min(
                (v for v, _ in side), key=lambda v: (len(v.span.text.split()), v.span.start)
            )
        members = tuple(m for _, m in side)
        out.append(Side(value, sentence, date_of(sentence.chunk.doc_id), members))
    out.sort(key=lambda side: (side.date != "", side.date), reverse=True)
    return Disagreement(tuple(out))


# ---------------------------------------------------------------------------- the answer


def show_date(iso: str) -> str:
    """ "2026-03-03" -> "3 Mar 2026"; "2025-11" -> "Nov 2025"; "" -> "undated"."""
    if not iso:
        return prompts.DATE_UNKNOWN
    parts = iso.split("-")
    try:
        year = int(parts[0])
        month = prompts.MONTH_ABBR[int(parts[1]) - 1] if len(parts) > 1 else ""
        day = int(parts[2]) if len(parts) > 2 else 0
    except (ValueError, IndexError):
        return iso
    return " ".join(str(p) for p in (day or "", month, year) if p)


def cite_sentence(answer: Answer, sentence: Scored) -> int:
    """The citation number of ``sentence`` in ``answer``: an existing citation of the same
    document that overlaps it, else a new citation of the whole sentence."""
    c = sentence.chunk
    for cit in answer.citations:
        if cit.source == c.source and cit.start < c.end and c.start < cit.end:
            return cit.n
    n = max((cit.n for cit in answer.citations), default=0) + 1
    answer.citations.append(
        Citation(
            n, c.source, c.doc_title, c.start, c.end, c.text, float(sentence.score), c.chunk_id
        )
    )
    return n


def _cited(answer: Answer, sentence: Scored) -> bool:
    """Does the answer cite (a span overlapping) ``sentence``?"""
    c = sentence.chunk
    return any(
        x.source == c.source and x.start < c.end and c.start < x.end for x in answer.citations
    )


def shown(side: Side, question: str = "") -> str:
    """A side's value as the note gives it: a count with the rest of the counted thing's
    words that follow it ("75 permanent" -> "75 permanent jobs" for "how many permanent
    jobs ..."); a figure written as an adjective as a noun phrase ("the 480-megawatt
    project" -> "480 megawatts")."""
    text, span = side.sentence.chunk.text, side.value.span
    if side.value.kind != "quantity" or text[span.start : span.end] != span.text:
        return span.text
    adjective = _UNIT_ADJECTIVE.fullmatch(span.text)
    if adjective:
        figure, unit = adjective.groups()
        return f"{figure} {unit if figure == '1' else plural(unit)}"
    focus = set(count_focus(question)) if question else set()
    end = span.end
    for m in re.finditer(r"\s+([\w’'-]+)", text[end:]):
        if m.start() != end - span.end or not set(tokenize(m.group(1))) & focus:
            break
        end = span.end + m.end()
    return text[span.start : end]


_UNIT_ADJECTIVE = re.compile(r"(\d[\d,]*(?:\.\d+)?)-([^\W\d_]+)")


def plural(noun: str) -> str:
    """The English plural of a unit noun ("megawatt" -> "megawatts", "inch" -> "inches",
    "storey" -> "storeys", "foot" -> "feet"); a noun ending in "s" is left as it is."""
    if noun.lower() == "foot":
        return noun[:-3] + "eet"
    if noun.endswith("s"):
        return noun
    if noun.endswith(("ch", "sh", "x", "z")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1].lower() not in set("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def note(answer: Answer, found: Disagreement, question: str = "") -> str:
    """The sentence naming each side with its citation and date, newest first; the
    sides' sentences are cited in ``answer`` as needed."""
    parts = [
        prompts.DISAGREE_SIDE.format(
            n=cite_sentence(answer, side.sentence),
            date=show_date(side.date),
            value=shown(side, question),
        )
        for side in found.sides
    ]
    return prompts.DISAGREE_NOTE.format(sides="; ".join(parts))


def annotate(
    answer: Answer, question: str, candidates: Sequence[Scored], date_of: DateOf
) -> Disagreement | None:
    """Add the disagreement note (and its citations) to an answer whose supporting
    sentences disagree; nothing when they agree or the answer abstained."""
    if answer.abstained or not answer.answer:
        return None
    found = find(question, candidates, date_of, lambda s: _cited(answer, s))
    if found is None or not any(
        _cited(answer, m) for side in found.sides for m in side.members
    ):  # the sides must be about what the answer says: one of them is its own
        return None
    answer.answer = f"{answer.answer} {note(answer, found, split_context(question)[0])}"
    return found


def confident_side(
    question: str,
    candidates: Sequence[Scored],
    date_of: DateOf,
    confident: Callable[[Scored], bool],
) -> Scored | None:
    """The sentence to answer with when the answer gate refused the draft but the sources
    disagree: a disagreement (:func:`find`) among the supporting sentences of a wider
    search, anchored on a sentence the gate is ``confident`` of on its own; of the
    sides' sentences that are, the newest (then the best scored). None when there is no
    such disagreement, so a question no sentence answers confidently (a near miss whose
    sources merely hold two values of the asked kind) is still refused.

    The gate reads one sentence, the best of the first search; where articles give a
    value two ways that is often a sentence about something else ("Dredging of the
    harbour was suspended ..." for "Who is the harbour master?"), and the check after an
    answer never ran. The disagreement note names both sides."""
    seen: dict[str, bool] = {}

    def sure(s: Scored) -> bool:
        key = s.chunk.chunk_id
        if key not in seen:
            seen[key] = confident(s)
        return seen[key]

    found = find(question, candidates, date_of, sure)
    if found is None:
        return None
    members = [m for side in found.sides for m in side.members if sure(m)]
    return max(members, key=lambda m: (date_of(m.chunk.doc_id), m.score), default=None)


def seed_query(question: str, answer: Answer) -> str | None:
    """A second query for the check's wider search, for a name: the asked role's words
    and the name the answer gives ("project director Marit Halvorsen"). Another
    article may state the same fact without the question's subject ("Project director
    Marit Halvorson said ..." never names the reservoir) and rank below any cut-off for
    the question alone; the name's other words find it (a figure or date on the other
    side is another figure: its words would not). None when the answer cites no name
    bound to a role."""
    primary = split_context(question)[0]
    qtype = question_type(primary)
    role = role_text(primary)
    role_words = [w for w in re.findall(r"[\w’'-]+", role) if stem(fold(w)) in role_terms(primary)]
    for cit in answer.citations:
        value = answer_value(qtype, cit.quote, primary)
        if value is not None and value.kind == "name" and role_words:
            return " ".join([*role_words, value.span.text])
    return None
