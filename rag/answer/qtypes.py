"""What a question asks for: the kind of value (question_type), the counted thing
(count_focus) and the numbers it states (unstated_numbers).

General English question words only, no word of any corpus; shared by the extractive
answerer (:mod:`rag.answer.extractive`, which re-exports these names), the abstention
gate and the many-article checks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text import numbers, tokenize

_PAY_VERB_ASKED = (  # "What did the Society pay for the island?", "What does it cost?"
    r"\bwhat (?:did|does|do|will|would|has|have|had) [\w' -]{1,60}?\b(?:pay|cost|charge|earn|"
    r"fetch)(?=\W*$|\s+(?:for|to|per|each|in|on|at|a|an|the)\b)(?! for\W*$)"
)
_TYPES: list[tuple[str, re.Pattern[str]]] = [
    (
        "measure",
        re.compile(
            r"\bhow (long|far|big|large|tall|wide|high|deep|heavy|old|fast|hot|cold|loud|steep|thick|"
            r"low|warm|narrow|strong)\b|"
            r"\b(?:what|which|to what) (?:\w+ )?(pressure|temperature|size|weight|length|"
            r"distance|height|depth|speed|voltage|capacity|power|output|level)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much)\b|\bnumber of\b|\bhow often\b|\bwhat (?:was|is|were|are) the "
            r"(?:total |overall |annual )?(?:count|figure|population|number|amount|value|size|"
            r"cost|price|budget|percentage|rate|share|volume|turnover|fee|fine|charge|rent|"
            r"salary|deposit)\b|" + _PAY_VERB_ASKED,
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\bwhen\b|\bwhat (days?|weekdays?|dates?|years?|months?|time)\b|"
            r"\bwhich (days?|weekdays?|years?|months?)\b|"
            r"\bon what day\b",
            re.I,
        ),
    ),
    (
        "person",
        re.compile(
            r"\bwho(m|se)?\b|\bwhich ([\w-]+ )?(persons?|people|officials?|leaders?|officers?|"
            r"man|men|woman|women)\b|\bname of the\b",
            re.I,
        ),
    ),
    (
        "org",
        re.compile(
            r"\b(?:which|what) (company|firm|contractor|organi[sz]ation|operator|supplier|body|"
            r"agency|department|group|bank|business|manufacturer|builder|institution)\b",
            re.I,
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\bwhich (city|place|province|country|town|region)\b|"
            r"\bin what (city|place|province)\b",
            re.I,
        ),
    ),
]
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.I)
_WORD_NUMBER = re.compile(r"(?:(?<=\s)|^)(\d{1,3}(?:,\d{3})+|\d+)(?=[\s?.!,;:]|$)")


def unstated_numbers(question: str, text: str) -> list[str]:
    """Numbers and ordinals the question states ("in 2024", "Section No. 8", "the 16th")
    that ``text`` (the answer's document) never mentions: it answers another question."""
    have = set(numbers(text))
    stated = [float(m.replace(",", "")) for m in _WORD_NUMBER.findall(question)]
    missing = [f"{n:g}" for n in stated if n not in have]
    have_ord = set(_ORDINAL.findall(text))
    return missing + [o for o in _ORDINAL.findall(question) if o not in have_ord]


_ASKED_NOUN = re.compile(r"\bwhat (?:was|is|were|are) the (?:total |overall |annual )?(\w+)", re.I)
_COUNT_FOCUS = re.compile(
    r"\bhow (?:many|much)\s+(.+?)(?:\s+(?:did|do|does|were|was|are|is|have|"
    r"has|had|will|would|could|in|at|on|by|during|for|from)\b|[?.,]|$)",
    re.I,
)


_AUX_FIRST = re.compile(
    r"^(?:did|do|does|is|was|were|are|will|would|can|could|should|must|has|have|had)\s+", re.I
)

VALUE_TYPES = frozenset({"number", "measure", "date"})
"""Question types that only a sentence holding that kind of value can answer."""
STRICT_TYPES = VALUE_TYPES | {"person", "org"}
"""Question types whose candidates holding that kind of value are ranked first."""


@lru_cache(maxsize=4096)
def question_type(question: str) -> str:
    """The kind of answer asked for: number, date, person, place or other. The question
    word that comes first decides ("Who cut the ribbon when ... opened?" asks for a
    person); at the same place, the order of :data:`_TYPES`."""
    if _GIVE_DATE.search(question):
        return "date"  # "How old is the oldest item? Give the year.": told what to give
    found = [
        (m.start(), i)
        for i, (name, p) in enumerate(_TYPES)
        if (m := p.search(question if name != "date" else _without_clause_when(question)))
    ]
    return _TYPES[min(found)[1]][0] if found else "other"


_GIVE_DATE = re.compile(r"\b(?:give|name|state|tell me) the (?:year|date|day|month)\b", re.I)
_WH_START = re.compile(r"^\W*(?:what|which|who|whom|whose|how|where|why)\b", re.I)
_CLAUSE_WHEN = re.compile(
    r"(?<![,;])(?<!\band)(?<!\bor)(?<!\bbut)(?<!\bby)(?<!\bsince)(?<!\buntil)(?<!\btill)"
    r"\s+when\b",
    re.I,
)


def _without_clause_when(question: str) -> str:
    """The question without a "when" that opens a clause inside it: "What is the limit
    for a room when the host is away?" asks for a limit, not a date. A question that
    starts with another question word asks that; "when" still asks at the start, after
    "and"/"or"/a comma or "by"/"since"/"until" ("What will it reach, and by when?"), or
    in "Do you know when ...?"."""
    if not _WH_START.match(question):
        return question
    return _CLAUSE_WHEN.sub(lambda m: " " * len(m.group()), question)  # positions kept


_MONEY_ASKED = re.compile(
    r"\bhow much (?:money\b|(?:do|does|did|is|was|will|would|has|have|had|can|must|should)\b"
    r"(?=.*\b(?:costs?|pay|paid|pays|spen[dt]|spends|charged?|charges|gives?|gave|given|"
    r"raised?|invest(?:ed)?|worth|earn(?:ed)?|fined?|budget(?:ed)?)\b))|"
    r"\bwhat (?:is|was|are|were|will be) the (?:\w+ )?(?:price|cost|fee|fine|charge|budget|"
    r"salary|fare|rent)s?\b|" + _PAY_VERB_ASKED,
    re.I,
)


@lru_cache(maxsize=4096)
def asks_money(question: str) -> bool:
    """Does the question ask for an amount of money: "how much money", "how much does X
    cost", "what is the fee", "what did X pay for Y" (not "how much notice must I give")?"""
    return _MONEY_ASKED.search(question) is not None


def asks_contact(question: str) -> str:
    """The kind of contact detail a question asks for: "phone" ("What's the phone number
    for ...?", "Which number do I ring?"), "email" ("What email address ...?") or ""."""
    if _PHONE_ASKED.search(question):
        return "phone"
    return "email" if _EMAIL_ASKED.search(question) else ""


_PHONE_ASKED = re.compile(
    r"\b(?:tele)?phone number\b|\b(?:what|which) number (?:do|should|can) (?:i|we|you) "
    r"(?:ring|call|phone|dial)\b|\bnumber to (?:ring|call|phone|dial)\b",
    re.I,
)
_EMAIL_ASKED = re.compile(r"\be-?mail address\b|\bwhat e-?mail\b", re.I)


def count_focus(question: str) -> list[str]:
    """The counted thing's terms: "How many hotline calls were made?" -> ["hotline", "call"].

    For "What is the population of X?" it is the asked-for noun: ["population"].
    """
    m = _COUNT_FOCUS.search(question)
    if m:  # "how much does X cost": X, the auxiliary left out
        return tokenize(_AUX_FIRST.sub("", m.group(1), count=1))
    m = _ASKED_NOUN.search(question)
    if m and m.group(1).lower() not in {"number", "count", "figure"}:
        return tokenize(m.group(1))
    return []


_MODIFIER = re.compile(r"\b(?:of|with|about|involving|against|over|under)\b", re.I)


def several_counts(question: str) -> bool:
    """Does a how-many question count two things at once ("How many talks and
    face-to-face meetings did they hold?")? An "and" inside the counted thing's modifier
    ("How many cases of organising illegal entry and exit were prosecuted?") joins what
    the one counted thing is about: one count is asked."""
    m = _COUNT_FOCUS.search(question)
    if not m:
        return False
    cut = _MODIFIER.search(m.group(1))
    head = m.group(1)[: cut.start()] if cut else m.group(1)
    return re.search(r"\band\b", head, re.I) is not None
