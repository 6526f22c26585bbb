"""Yes/no questions: is the quoted sentence about what the question states?

A yes/no question ("Did the council raise the fee to 1,200 euros in October 2026?")
asks whether a statement holds, and everything it states is what the answer must
confirm. A sentence on the same subject that holds another year, or names the asked
thing under another modifier ("a Certified Installer" for "any qualified installer"),
does not confirm it, and quoting it reads as "yes". :func:`unconfirmed` lists what the
question states that the quoted sentences and their context do not hold: the numbers
and dates it states (digits or number words, months by name) and the modifiers that the
sentence replaces with another on the same noun
(:func:`rag.answer.noun_phrases.modifier_rivals`). Any of these, and the assistant says
the sources do not answer instead of quoting. The question's own words and the
sentence's decide, never a word of one corpus; the question is recognised by its
English auxiliary lead ("Is", "Did", "Can", ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.noun_phrases import modifier_rivals
from rag.answer.qualifiers import calendar_words
from rag.answer.spans import stated_numbers
from rag.text import fold

_AUX_LEAD = re.compile(
    r"^\W*(?:and\s+|so\s+|but\s+)?(?:is|are|was|were|am|isn't|aren't|wasn't|weren't|"
    r"do|does|did|don't|doesn't|didn't|can|could|can't|will|would|won't|shall|should|"
    r"has|have|had|hasn't|haven't|may|might|must)\b",
    re.I,
)
_ASKS_WH = re.compile(
    r"^\W*\w+(?:n't)?\s+(?:you|i|we|they|anyone)\s+(?:know|tell|say|explain|see|find)\b", re.I
)
""""Do you know when ...?", "Can you tell me who ...?": a wh-question in a polite frame."""
_ALTERNATIVE = re.compile(r"\bor\b", re.I)
""""Is the fee paid monthly or yearly?": a choice between two answers, not yes or no."""


def is_yes_no(question: str) -> bool:
    """Whether ``question`` asks for a yes or a no: it opens with an auxiliary verb
    ("Is there a limit ...?", "Did the board agree ...?"), is not a wh-question in a
    polite frame ("Do you know when ...?") and offers no alternatives ("... or ...")."""
    q = question.strip()
    return bool(_AUX_LEAD.match(q)) and not _ASKS_WH.match(q) and not _ALTERNATIVE.search(q)


REPICK = 4
"""How many of the next-ranked candidates a yes/no question may quote instead when the
first one does not hold what it states."""

_SERIES = re.compile(r"\b([A-Za-z]+)\s+([A-Z])\b")
"""A capital letter naming one of a series ("Class D", "zone B")."""


def series_pairs(text: str) -> set[str]:
    """The series members a text names, folded ("Class A" -> "class a"): one letter as a
    term says nothing (and "a" is a stop word), so the pair is what is looked for."""
    return {
        fold(f"{m.group(1)} {m.group(2)}") for m in _SERIES.finditer(text) if m.group(2) != "I"
    }  # "Can I ...": the pronoun


def names_member(text: str, pair: str) -> bool:
    """Whether ``text`` names the series member ``pair`` (as :func:`series_pairs` folds it)."""
    return re.search(rf"\b{re.escape(pair)}\b", fold(text)) is not None


_DETERMINERS = frozenset({"another", "other", "any", "some", "each", "every", "such", "same"})
"""Words before a noun that choose no other entity ("another survey", "any installer")."""


def unconfirmed(
    question: str, sentence: str, labels: Sequence[str] = (), near: Sequence[str] = ()
) -> list[str]:
    """What ``question`` states that ``sentence`` (the quoted sentence) does not hold:
    numbers and dates it states, months, weekdays, weekends and series members ("Class A")
    it names, absent from the sentence and its
    ``labels`` (heading, title, the other quoted sentences: a year in the next sentence
    dates another event, "The council will consider them in October 2026"), and its
    modifiers that the sentence, or the sentences ``near`` it, replace with another on
    the same noun. Empty when the sentence can answer it."""
    own = "\n".join([sentence, *labels])
    out = sorted(stated_numbers(question) - stated_numbers(own))
    out += sorted(calendar_words(question, weeks=True) - calendar_words(own, weeks=True))
    out += sorted(p for p in series_pairs(question) if not names_member(own, p))
    rivals = modifier_rivals(question, sentence, "\n".join(near))
    return out + [m for m in rivals if m not in _DETERMINERS]
