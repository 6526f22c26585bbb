"""Two-part questions: the parts, and the one sentence that answers both when there is one.

"How many solar panels are on the roof, and how much of the building's electricity should
they cover?" is split into its parts (:func:`rag.retrieve.retriever.sub_queries`), and
each part is ranked on its own. Often one sentence answers both ("The roof carries 310
solar panels, which the council expects to cover about a third of the building's
electricity use"): forcing each part onto a different sentence then answers the second
part with a sentence about something else. :func:`joint_pick` finds that sentence from
what the question asks, the same way for any documents: each part's value of the asked
kind, or its own words, must stand in it.

A part can ask about something the documents never mention ("How many Class A and how
many Class D licences were refused?", and no retrieved document names a Class D):
:func:`unheld_parts` finds it from the part's own names, codes and numbers, so the
answer gives the other part with its citation and says that the sources do not answer
this one, instead of quoting a sentence about another class for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.answer.qualifiers import pick_value
from rag.answer.spans import ANSWER_KINDS, answer_values, asked_names
from rag.answer.yesno import names_member, series_pairs
from rag.text import STOPWORDS, fold, numbers, tokenize

if TYPE_CHECKING:
    from rag.answer.candidates import Scored

JOINT_MARGIN = 0.2
"""How far below a part's best sentence the shared sentence may score for that part when
it holds a value of the kind that part asks for (its best sentence may hold a value of
that kind about something else: "Parking costs £2.50" against "a weekly pass at £10")."""
MIN_COVER = 0.75
"""Share of a part's own terms (not the words naming the asked kind) the sentence needs."""

_KIND_WORDS = frozenset(
    tokenize(
        "how many much long far often old soon quickly what which who whom whose when where "
        "number amount total figure cost costs price fee charge share percentage rate "
        "value size level date day days weekday weekdays year month time"
    )
)
"""Words that name the kind of value asked for: the value itself answers them."""
_MONEY_ASKED = re.compile(r"\b(?:cost|costs|price|fee|fees|charge|pay|paid|spend|spent)\b", re.I)

_WH_LEAD = re.compile(
    r"^\s*(?:(?:on|in|at|by|for|from|to|until)\s+)?(?:what|which|who|whom|whose|when|where|why|how)\b"
    r"(?:\s+(?:many|much|long|often|old|far|days?|weekdays?|years?|months?|dates?))?",
    re.I,
)


def with_question_word(parts: list[str]) -> list[str]:
    """Parts after the first that lack a question word borrow the first one's ("How many
    suspects were involved in the fireworks cases and [how many suspects were involved
    in] the smuggling cases?"): all it has before its "the" when the later part is a
    "the ..." phrase, else the question word ("On which days")."""
    lead = _WH_LEAD.match(parts[0]) if parts else None
    if lead is None:
        return parts
    # two things in one question ("... were the review talks and the chairmen's talks
    # held?"): the second borrows all the first has before its own "the"
    shared = parts[0][: parts[0].lower().rfind(" the ")].strip()
    if len(shared) <= len(lead.group().strip()):
        shared = lead.group().strip()
    return [parts[0]] + [
        p
        if _WH_LEAD.match(p)
        else f"{shared if p.lower().startswith('the ') else lead.group().strip()} {p}"
        for p in parts[1:]
    ]


_AUX = r"(?:is|are|was|were|will|would|can|could|should|do|does|did|has|have|had)"
_NP_START = re.compile(
    rf"\b(?:(?P<aux>{_AUX})\s+)?(?P<np>(?:the|a|an|this|its|their)\s+[\w'-]+(?:\s+[\w'-]+)*"
    r"|[A-Z][\w-]*'s(?:\s+[\w'-]+)+)\s*$",
)
_IT = re.compile(r"\b(it|its|there)\b", re.I)


def topic_of(part: str) -> str:
    """What a later part's "it" points back to in the first part: its last noun phrase
    ("the scallop season" in "When does the scallop season open", the verb after a
    "does ..." subject left out); "" when none stands out. ("They" is left alone: after
    "How many solar panels ...", writing the counted thing into the second part makes
    its count the second part's value too.)"""
    text = part.strip().rstrip("?")
    m = _NP_START.search(text)
    it = ""
    if m:
        words = m.group("np").split()
        if m.group("aux") and len(words) > 2:
            words = words[:-1]  # "did the panel hear": the subject, not its verb
        it = " ".join(words)
        if re.search(r"\b(?:on|in|at|of|for|to|from|with|by)\b", it):
            it = ""  # a phrase with a preposition in it: too long to be sure of
    return it


def with_referents(parts: list[str]) -> list[str]:
    """Later parts with "it", "its" and "there" written out from the first part
    ("..., and when does it close?" -> "when does the scallop season close?"): each part
    is ranked on its own, and a pronoun matches any sentence."""
    if len(parts) < 2:
        return parts
    it = topic_of(parts[0])

    def sub_it(m: re.Match[str]) -> str:
        word = m.group(1).lower()
        return {"it": it, "its": f"{it}'s", "there": f"at {it}"}[word]

    out = [parts[0]]
    for p in parts[1:]:
        if it:
            p = _IT.sub(sub_it, p)
        out.append(p)
    return out


def own_terms(part: str) -> set[str]:
    """The part's content terms minus those naming the asked kind ("how much", "cost")."""
    return set(tokenize(part)) - _KIND_WORDS


def _cover(part: str, s: Scored, others: set[str]) -> float:
    """Share of the part's own terms in the sentence or its context, those the other parts
    do not share (what tells the parts apart: "the talks between the chairmen" against
    "the border guard talks") if it has any; 1.0 when it has none."""
    terms = own_terms(part)
    terms = (terms - others) or terms
    if not terms:
        return 1.0
    have = set(tokenize(s.chunk.text)) | s.context
    return len(terms & have) / len(terms)


def _value(qtype: str, part: str, sentence: str, focus: Sequence[str]) -> tuple[int, int] | None:
    """Where the value the part asks for stands in the sentence (None: it holds none)."""
    if qtype not in ANSWER_KINDS:
        return None
    values = answer_values(qtype, sentence, part)
    if _MONEY_ASKED.search(part):  # a cost is answered by money, not by any number
        values = [v for v in values if v.kind == "money"]
    if not values:
        return None
    v = pick_value(qtype, part, sentence, list(focus)) or values[0]
    return (v.start, v.end)


def _holds_value(part: str, s: Scored) -> bool:
    """The sentence holds the asked kind of value as the ranking types it (a day for "which
    weekday", a count next to the counted thing), or money for a cost."""
    return s.typed >= 1.0 or _MONEY_ASKED.search(part) is not None


def joint_pick(
    parts: Sequence[str],
    rankings: Sequence[Sequence[Scored]],
    qtypes: Sequence[str],
    focuses: Sequence[Sequence[str]],
) -> list[Scored] | None:
    """The one sentence that answers every part, as each part's scoring of it; None when
    the parts need different sentences.

    The candidates are each part's best sentence. It must cover every part's own terms,
    those no other part shares (:data:`MIN_COVER`), and answers another part when it is
    that part's best sentence too or holds a value of the kind the part asks for, scoring
    within :data:`JOINT_MARGIN` of that part's best; a value that qualifies it must differ
    from the leading part's ("When does the season open, and when does it close?" is not
    answered by one date).
    """
    by_id = [{s.chunk.chunk_id: s for s in r} for r in rankings]
    terms = [own_terms(p) for p in parts]
    others = [set().union(*(t for j, t in enumerate(terms) if j != i)) for i in range(len(parts))]
    for lead in range(len(parts)):
        if not rankings[lead]:
            continue
        cid = rankings[lead][0].chunk.chunk_id
        mine = [b.get(cid) for b in by_id]
        if any(s is None for s in mine):
            continue
        values: list[tuple[int, int] | None] = []
        ok = True
        for i, (part, s) in enumerate(zip(parts, mine, strict=True)):
            assert s is not None
            at = _value(qtypes[i], part, s.chunk.text, focuses[i])
            best = rankings[i][0]
            if _cover(part, s, others[i]) < MIN_COVER:
                ok = False
            elif i == lead:
                values.append(at)
            elif s.chunk.chunk_id == best.chunk.chunk_id:  # its best too: it may share a value
                values.append(None)
            elif at is not None and _holds_value(part, s) and s.score >= best.score - JOINT_MARGIN:
                values.append(at)
            else:
                ok = False
            if not ok:
                break
        known = [v for v in values if v is not None]
        if ok and len(set(known)) == len(known):
            return [s for s in mine if s is not None]
    return None


def unheld(part: str, doc_texts: Iterable[str]) -> list[str]:
    """The names, codes and numbers ``part`` states that none of ``doc_texts`` (the
    retrieved documents) mentions: the part asks about something they do not hold."""
    docs = [_read(t) for t in doc_texts]
    series = {p.split()[-1] for p in series_pairs(part)}
    asked = asked_names(part) - STOPWORDS - series
    absent = sorted(t for t in asked if not any(t in d.terms for d in docs))
    # most of its name's words: "Mr Harlow" asked, "Harlow" written, is held
    out = absent if 2 * len(absent) > len(asked) else []
    out += sorted(p for p in series_pairs(part) if not any(names_member(d.folded, p) for d in docs))
    out += [f"{n:g}" for n in numbers(part) if not any(n in d.numbers for d in docs)]
    ordinals = _ORDINAL.findall(part)
    return out + [o for o in ordinals if not any(o in d.ordinals for d in docs)]


_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.I)


@dataclass(frozen=True, slots=True)
class _Doc:
    """A document as :func:`unheld` reads it."""

    folded: str
    terms: frozenset[str]
    numbers: frozenset[float]
    ordinals: frozenset[str]


@lru_cache(maxsize=256)
def _read(text: str) -> _Doc:
    """A document folded, its terms, numbers and ordinals (cached: the same documents
    answer many questions)."""
    folded = fold(text)
    return _Doc(
        folded,
        frozenset(tokenize(folded)),
        frozenset(numbers(text)),
        frozenset(_ORDINAL.findall(text)),
    )


def unheld_parts(parts: Sequence[str], doc_texts: Iterable[str]) -> list[int]:
    """The indexes of the parts that ask about something the documents never mention
    (:func:`unheld`)."""
    texts = list(doc_texts)
    return [i for i, p in enumerate(parts) if unheld(p, texts)]
