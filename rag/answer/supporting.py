"""Supporting sentences: the candidates that answer a question about as well as the best
one, and the value each gives.

Where many dated articles answer one question, the disagreement check
(:mod:`rag.answer.disagree`) and the "latest" rule (:mod:`rag.answer.recency`) both need
the same two things, found with general span typing (:mod:`rag.answer.spans`), never
words of one corpus:

1. *Supporting sentences* are the answerer's candidates that answer the question about as
   well as the best one (:func:`supporting`): close in score and, for value questions,
   holding a value of the asked kind (money for a cost, a figure in the asked unit, a
   name near a word of the asked role).
2. Each supporting sentence's *answer value* is the span of the asked kind nearest to the
   question's own words (:func:`answer_value`): money, a percentage, a number with its
   unit, a date, a name.

Whether two values conflict is :func:`rag.answer.compare.conflict`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from rag import prompts
from rag.answer.compare import (
    MEASURE_KEYS,
    MONEY_CUE,
    NAME_KINDS,
    Value,
    asked_attribute,
    asked_money_cues,
    former,
    in_year_range,
    make_value,
    priced_by,
    unit_adjectives,
    unit_key,
    with_period,
)
from rag.answer.extractive import Scored, count_focus, question_type
from rag.answer.followup import split_context
from rag.answer.spans import Span, answer_values, asked_names, stated_numbers
from rag.text import STOPWORDS, stem, tokenize

SEMANTIC_MARGIN = 0.25  # a supporting sentence is this close in meaning to the best one
LEXICAL_SHARE = 0.3  # ... and has this share of the best question-term coverage,
SAME_WORDING = 0.9  # ... or is worded (almost) as closely as the best
IN_UNIT_WORDING = 0.7  # a figure in the asked unit: close in meaning, or this well worded
MAX_CANDIDATES = 12  # supporting sentences looked at, best first


def attribute_units(question: str, candidates: Sequence[Scored]) -> set[str]:
    """The units the candidates measure the asked attribute in: of each figure that stands
    right after "<attribute> of" ("a capacity of 450 megawatts": megawatt). Empty for
    other questions, or when no candidate measures it."""
    noun = asked_attribute(question)
    if noun is None:
        return set()
    cue = re.compile(rf"\b{re.escape(noun)}\s+of\s+(?:about\s+|around\s+|up\s+to\s+)?$", re.I)
    out = set()
    for s in candidates:
        text = s.chunk.text
        for v in _values("measure", text, question):
            if v.kind == "quantity" and cue.search(text[: v.span.start]):
                out.add(v.key[1])
    return out


_NAME_ASKED = re.compile(
    r"\b(?:what|which)(?:'s|’s|\s+is|\s+was|\s+are|\s+were)?\s+(?:the\s+|their\s+|its\s+)?"
    r"(?:full\s+|first\s+|last\s+)?names?\s+of\b",
    re.I,
)
_RECENCY = re.compile(prompts.RECENCY_CUES, re.I)
ROLE_WINDOW = 40  # characters between a name and the nearest word of the asked role


def role_text(question: str) -> str:
    """The question without its latest-state cue words and a "what is the name of"
    opening: what is left names the subject and the role asked about."""
    return _NAME_ASKED.sub(" ", _RECENCY.sub(" ", question))


@lru_cache(maxsize=4096)
def role_terms(question: str) -> frozenset[str]:
    """Stems of the words of a "who" question that name the role asked about ("chief",
    "executive" in "Who is currently the chief executive of Fenmoor Water?"): its words
    without the names it mentions (the subject, not the role), the latest-state cue
    words and a "what is the name of" opening."""
    text = role_text(question)
    names = asked_names(question)
    return frozenset(
        _role_stems(t for t in tokenize(text) if t not in names or t in ROLE_ABBREVIATIONS)
    )


_OWNER = re.compile(r"[\w-]+(?:'s|’s|s'|s’)(?=\s)")
_OF_SUBJECT = re.compile(r"\s(?:of|for|at|in|on|with|from)\s.*$", re.I)


@lru_cache(maxsize=4096)
def core_role(question: str) -> frozenset[str]:
    """The stems of the role itself, without whose role it is: "chief financial officer"
    in "What is the name of the district's chief financial officer?" and in "Who is the
    president of the school board?" ("president"); a possessive and a phrase after "of",
    "for", "at", "in" name the body that holds the role, which a sentence naming the
    holder need not repeat. Falls back to :func:`role_terms` when nothing is left."""
    roles = role_terms(question)
    text = _OWNER.sub(" ", role_text(question))
    head = re.sub(r"^\W*(?:who|whom|whose)\b", "", text, flags=re.I)
    head = _OF_SUBJECT.sub("", head.strip())
    core = _role_stems(t for t in tokenize(head) if t not in STOPWORDS) & roles
    return frozenset(core) or roles


ROLE_ABBREVIATIONS = {
    "ceo": "chief executive officer",
    "cfo": "chief financial officer",
    "coo": "chief operating officer",
    "cto": "chief technology officer",
    "cio": "chief information officer",
    "vp": "vice president",
    "md": "managing director",
    "gm": "general manager",
    "pm": "prime minister",
}
"""Standard English abbreviations of job titles (any organisation): "CEO Jane Doe" names
the chief executive."""


def _role_stems(terms: Iterable[str]) -> set[str]:
    """Stems of role words, an abbreviated title with the words it stands for ("ceo" ->
    "ceo", "chief", "execut", "offic")."""
    out: set[str] = set()
    for t in terms:
        out |= _term_role_stems(t)
    return out


@lru_cache(maxsize=16384)
def _term_role_stems(term: str) -> frozenset[str]:
    """:func:`_role_stems` of one word (cached: every word of every candidate sentence
    is read for each "who" question)."""
    return frozenset({stem(term)} | {stem(w) for w in ROLE_ABBREVIATIONS.get(term, "").split()})


def _role_bound(span: Span, sentence: str, roles: frozenset[str]) -> bool:
    """Does a word of the asked role stand near the name ``span``, outside it ("chief
    executive Douglas Penhale"; not "the Water Charges Commission approved a rise")?"""
    for a, b, terms in _word_terms(sentence):
        title = a == span.start and terms <= ROLE_ABBREVIATIONS.keys()  # "CEO Maria Okonkwo"
        if (span.start <= a < span.end and not title) or not _role_stems(terms) & roles:
            continue
        if max(a - span.end, span.start - b, 0) <= ROLE_WINDOW:
            return True
    return False


_DATE_NOUN = re.compile(
    r"^\W*(?:what|which)\b[^?]*\b(?:date|day|deadline)\b(?!\s+(?:care|centre|center|trip|school))",
    re.I,
)


def asked_type(question: str) -> str:
    """The answerer's question type, but a date for an open question that asks for one by
    name ("What is the closing date of the consultation?", "Which day does it open?")."""
    qtype = question_type(question)
    if qtype == "other" and _DATE_NOUN.search(question):
        return "date"
    return qtype


NAME_QUESTIONS = frozenset({"person", "org", "place", "name"})


def _full_role(span: Span, sentence: str, roles: frozenset[str]) -> bool:
    """Does every word of the asked role stand within :data:`ROLE_WINDOW` characters of
    the name ``span`` ("chief financial officer Marisol Quintero")? A name so bound is
    the answer to the "who" question whatever else its sentence says."""
    if span.kind not in NAME_KINDS:
        return False
    near = set()
    for a, b, terms in _word_terms(sentence):
        title = a == span.start and terms <= ROLE_ABBREVIATIONS.keys()
        if (title or not span.start <= a < span.end) and max(
            a - span.end, span.start - b, 0
        ) <= ROLE_WINDOW:
            near |= _role_stems(terms)
    return roles <= near


def _values(qtype: str, sentence: str, question: str) -> list[Value]:
    """The comparable values of the asked kind in ``sentence``, nearest to the question's
    own words first; bare numbers right after a capitalised word ("Phase 1") are labels,
    and a name counts only near a word of the role the question asks about
    (:func:`role_terms`), when it names one."""
    spans = answer_values(qtype, sentence, question)
    if qtype in {"number", "measure"}:
        spans += unit_adjectives(sentence, spans)
    spans = [sp for sp in spans if not in_year_range(sentence, sp)]  # "the 2025-26 budget"
    roles = role_terms(question)
    if roles:
        spans = [
            sp for sp in spans if sp.kind not in NAME_KINDS or _role_bound(sp, sentence, roles)
        ]
    qterms = set(tokenize(question))
    anchors = [(a, b) for a, b, terms in _word_terms(sentence) if terms & qterms]

    def distance(span: Span) -> int:
        if not anchors:
            return 0
        return min(max(a - span.end, span.start - b, 0) for a, b in anchors)

    out = []
    for span in sorted(spans, key=lambda sp: (former(sentence, sp), distance(sp), sp.start)):
        tail = re.match(r"\d+", sentence[span.end :])
        if span.kind == "date" and tail:  # "December 20" cut out of "December 2027"
            span = Span(
                span.start,
                span.end + tail.end(),
                span.kind,
                sentence[span.start : span.end + tail.end()],
            )
        value = make_value(with_period(sentence, span))  # "autumn 2027", not "2027"
        if value is None:
            continue
        if value.kind == "number" and re.search(r"[A-Z][\w-]*\s+$", sentence[: span.start]):
            continue
        out.append(value)
    return out


@lru_cache(maxsize=16384)
def _word_terms(sentence: str) -> tuple[tuple[int, int, frozenset[str]], ...]:
    """Each word of ``sentence`` with its terms (cached: read for every question)."""
    return tuple(
        (m.start(), m.end(), frozenset(tokenize(m.group())))
        for m in re.finditer(r"[\w’'-]+", sentence)
    )


def values_of(qtype: str, sentence: str, question: str) -> list[Value]:
    """Every comparable value of the asked kind in ``sentence``, nearest to the question's
    own words first (:func:`answer_value` is the first)."""
    return _values(qtype, sentence, question)


def answer_value(qtype: str, sentence: str, question: str) -> Value | None:
    """The value ``sentence`` gives for ``question``: the span of the asked kind that sits
    nearest to the question's own words in the sentence (ties: the first)."""
    values = _values(qtype, sentence, question)
    return values[0] if values else None


_META_LINE = re.compile(r"^\s*(?:-{3,}|\+{3,}|[a-z_][\w-]{0,30}\s*:(?:\s.*)?)\s*$")


def is_metadata(text: str) -> bool:
    """Whether a candidate "sentence" is a metadata block (front matter's ``title: ...`` /
    ``date: ...`` lines between ``---`` fences), not prose: it states no fact an answer
    can give, and its title words would set the bar for the sentences that do."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return bool(lines) and all(_META_LINE.match(ln) for ln in lines) and ":" in text


def _pool(question: str, candidates: Sequence[Scored]) -> list[tuple[Scored, list[Value]]]:
    """Candidates holding a value of the kind asked: money for a question about cost or
    price; a figure in the unit the question names ("how many metres") when any
    candidate has one; for an open question about a measured attribute, a figure in a
    unit the candidates measure it in (:func:`attribute_units`); otherwise any value of
    the question type. Metadata blocks (:func:`is_metadata`) are left out."""
    qtype = asked_type(question)
    kinds = asked_money_kinds(question)
    money = bool(kinds) and qtype in {"number", "measure", "other"}
    if money:
        qtype = "number"
    if not money and asked_attribute(question) is not None:  # "what will the capacity of X be?"
        measured = attribute_units(question, candidates)
        values = ((s, _values("measure", s.chunk.text, question)) for s in candidates)
        return [
            (s, kept)
            for s, vs in values
            if not is_metadata(s.chunk.text)
            and (kept := [v for v in vs if v.kind == "quantity" and v.key[1] in measured])
        ]
    qunits = asked_units(question)
    pool = []
    for s in candidates:
        if is_metadata(s.chunk.text):
            continue
        values = _values(qtype, s.chunk.text, question)
        if money:
            values = [v for v in values if v.kind in kinds]
        if values:
            pool.append((s, values))
    if qtype in {"number", "measure"} and not money:
        in_unit = [
            (s, [v for v in vs if v.kind == "quantity" and v.key[1] in qunits]) for s, vs in pool
        ]
        in_unit = [(s, vs) for s, vs in in_unit if vs]
        if in_unit:
            pool = in_unit + _counted_otherwise(question, pool, in_unit)
    return pool


_BY_HOW_MUCH = re.compile(r"\bby\s+how\s+much\b|\bhow\s+much\s+(?:more|less)\b", re.I)
"""A question for a change ("By how much will the levy rise?"): the change may be given as
a percentage as well as an amount of money."""
_PERCENT_ASKED = re.compile(r"\b(?:percent(?:age)?|per\s+cent|%)", re.I)
_CURRENCY_WORDS = {"dollar", "pound", "euro", "yen", "cent", "penny", "penni"}


def asked_money_kinds(question: str) -> set[str]:
    """The kinds of value a question about money asks for: an amount for "how much will
    it cost"; a percentage for "what percentage increase in the levy does the budget
    bring"; either for "by how much will the levy rise". Empty when it asks no amount:
    no money word, or a count of something else ("How many teaching jobs does the budget
    eliminate?" counts jobs; "budget" is its subject)."""
    if _PERCENT_ASKED.search(question):
        return {"percent"}
    if not MONEY_CUE.search(question):
        return set()
    focus = {stem(t) for t in count_focus(question)}
    if focus and not focus & _CURRENCY_WORDS and re.search(r"\bhow\s+many\b", question, re.I):
        return set()
    return {"money", "percent"} if _BY_HOW_MUCH.search(question) else {"money"}


def asked_units(question: str) -> set[str]:
    """Unit keys of the thing a question counts ("how many homes ... turbines": homes, not
    turbines), else of all its words (a "how far" question names its unit anywhere); for
    a question of distance, size or time that names no unit ("How far from the shore will
    the turbines be?"), the standard units of that dimension."""
    words = {unit_key(t) for t in tokenize(question)}
    dimension = _DIMENSION_ASKED.search(question)
    if dimension and not words & _ALL_UNITS:
        return set(DIMENSIONS[dimension.group(1).lower()])
    focus = count_focus(question)
    return {unit_key(t) for t in (focus or tokenize(question))}


_LENGTH = frozenset(
    unit_key(u)
    for u in ("kilometre", "metre", "centimetre", "millimetre", "mile", "foot", "inch", "yard")
)
_TIME = frozenset(unit_key(u) for u in ("second", "minute", "hour", "day", "week", "month", "year"))
_MASS = frozenset(unit_key(u) for u in ("kilogram", "gram", "tonne"))
DIMENSIONS = {
    "far": _LENGTH,
    "further": _LENGTH,
    "farther": _LENGTH,
    "high": _LENGTH,
    "higher": _LENGTH,
    "tall": _LENGTH,
    "taller": _LENGTH,
    "deep": _LENGTH,
    "deeper": _LENGTH,
    "wide": _LENGTH,
    "wider": _LENGTH,
    "long": _LENGTH | _TIME,
    "longer": _LENGTH | _TIME,
    "heavy": _MASS,
    "heavier": _MASS,
}
"""The units a question of distance, size, time or weight is answered in (standard
units, any domain): "how far" in kilometres or miles, "how long" in metres or weeks."""
_ALL_UNITS = frozenset().union(*DIMENSIONS.values())
_DIMENSION_ASKED = re.compile(rf"\bhow\s+(?:much\s+)?({'|'.join(DIMENSIONS)})\b", re.I)


SAME_CONTEXT = 2  # question terms (besides the counted thing) two counts must share


def _counted_otherwise(
    question: str,
    pool: list[tuple[Scored, list[Value]]],
    in_unit: list[tuple[Scored, list[Value]]],
) -> list[tuple[Scored, list[Value]]]:
    """Sentences that count the asked thing under another name ("180 jobs ... at the peak
    of construction" for "how many people ... at the peak of construction?", where another
    sentence says "220 people"): the sentence's only counts are in other units, and it
    shares at least :data:`SAME_CONTEXT` of the question's other terms with the best
    sentence that counts in the question's unit, so it is about the same occasion; or it
    is about as close in meaning (:data:`ALIKE_MARGIN`) as that sentence and its count stands
    among the same words ("enough electricity for 410,000 households" beside "enough to
    power 380,000 homes")."""
    if asked_units(question) & MEASURE_KEYS:
        return []  # a figure in megawatts is measured, not counted under another name
    focus = {stem(t) for t in count_focus(question)}
    asked = {stem(t) for t in tokenize(question) if t not in STOPWORDS} - focus
    best = max(in_unit, key=lambda p: p[0].score)[0]
    ref = asked & {stem(t) for t in tokenize(best.chunk.text)}
    taken = {s.chunk.chunk_id for s, _ in in_unit}
    out = []
    for s, vs in pool:
        counts = [v for v in vs if v.kind == "quantity"]
        if s.chunk.chunk_id in taken or not counts or len(counts) != len(vs):
            continue
        alike = s.semantic >= best.semantic - ALIKE_MARGIN and any(
            _around(s.chunk.text, c.span) & _around(t.chunk.text, v.span)
            for c in counts
            for t, vs_t in in_unit
            for v in vs_t
        )
        if alike or len(ref & {stem(t) for t in tokenize(s.chunk.text)}) >= SAME_CONTEXT:
            out.append((s, counts))
    return out


ALIKE_MARGIN = 0.1  # a count worded alike is about as close in meaning as the asked one
AROUND = 4  # words either side of a figure read as its wording


def _around(sentence: str, span: Span) -> set[str]:
    """Stems of the content words among the :data:`AROUND` words either side of ``span``
    (no figures)."""
    before = re.findall(r"[\w’'-]+", sentence[: span.start])[-AROUND:]
    after = re.findall(r"[\w’'-]+", sentence[span.end :])[:AROUND]
    return {
        stem(t)
        for t in tokenize(" ".join(before + after))
        if t not in STOPWORDS and not t[:1].isdigit()
    }


def supporting_values(
    question: str, candidates: Sequence[Scored]
) -> list[tuple[Scored, list[Value]]]:
    """The candidates that answer ``question`` about as well as the best one that holds a
    value of the asked kind, each with its values (best first): close in meaning and
    sharing the question's wording, or worded as closely as the best."""
    primary = split_context(question)[0]
    stated = stated_numbers(primary)  # "in 2023": a sentence about another year is not it
    about = _numbers_about(candidates) if stated else {}
    pool = [
        (s, vs)
        for s, vs in _pool(primary, candidates)
        if not stated or stated <= about[s.chunk.doc_id]
    ]
    if not pool:
        return []
    top_sem = max(s.semantic for s, _ in pool)
    top_lex = max(s.lexical for s, _ in pool)
    units = asked_units(primary) if asked_type(primary) in {"number", "measure"} else set()
    units |= attribute_units(primary, candidates)
    roles = core_role(primary) if question_type(primary) in NAME_QUESTIONS else frozenset()

    def near(s: Scored, vs: list[Value]) -> bool:
        close = s.semantic >= top_sem - SEMANTIC_MARGIN
        if units and any(v.kind == "quantity" and v.key[1] in units for v in vs):
            # a figure in the very unit asked about ("24 km" for "how many kilometres"): the
            # unit is the question's word in other letters, so either test alone will do
            return close or s.lexical >= IN_UNIT_WORDING * top_lex
        if roles and any(_full_role(v.span, s.chunk.text, roles) for v in vs):
            # a name with every word of the asked role beside it ("Chief financial officer
            # Marisol Quintera said ..."): what the rest of the sentence says is no matter
            return close or s.lexical >= IN_UNIT_WORDING * top_lex
        return (close and s.lexical >= LEXICAL_SHARE * top_lex) or (
            top_lex > 0 and s.lexical >= SAME_WORDING * top_lex
        )

    keep = [(s, vs) for s, vs in pool if near(s, vs) or _priced_here(primary, s, vs, candidates)]
    keep.sort(key=lambda p: -p[0].score)
    return keep[:MAX_CANDIDATES]


def _numbers_about(candidates: Sequence[Scored]) -> dict[str, set[str]]:
    """The numbers each document's sentences are about, by doc_id: those stated in its
    title and in any of its candidate sentences or their headings. An article about one
    year ("a budget for the 2025-26 school year") does not repeat the year in each
    sentence ("... and raise the local tax levy by 3.9%"); a sentence of an article that
    never names the asked year is about another one."""
    out: dict[str, set[str]] = {}
    for s in candidates:
        c = s.chunk
        if c.doc_id not in out:
            out[c.doc_id] = stated_numbers(c.doc_title)
        out[c.doc_id] |= stated_numbers(" ".join([c.text, *sorted(s.context)]))
    return out


_PRONOUN_SUBJECT = re.compile(r"^(?:it|its|they|their|this|these)\b", re.I)


def _priced_here(
    question: str, s: Scored, values: list[Value], candidates: Sequence[Scored]
) -> bool:
    """Does ``s`` state the very amount a money question asks for, though worded unlike
    the best sentence ("It is expected to cost £1.2 billion" for "How much will the X
    wind farm cost?", where another article says "The cost of the X wind farm has risen
    to £1.45 billion")? Its amount follows the question's own money word
    (:func:`rag.answer.compare.priced_by`), and it names the question's subject:
    :data:`SAME_CONTEXT` of the question's other terms are in the sentence, its heading or
    its document's title (which says what the article is about) or, when its
    subject is a pronoun ("It ..."), in the sentence before it (a candidate of the same
    document), which says what "it" is."""
    text = s.chunk.text
    if not any(v.kind == "money" and priced_by(question, text, v.span) for v in values):
        return False
    cues = asked_money_cues(question)
    subject = {stem(t) for t in tokenize(question) if t not in STOPWORDS} - cues
    terms = {stem(t) for t in tokenize(" ".join([text, s.chunk.doc_title, *sorted(s.context)]))}
    if _PRONOUN_SUBJECT.match(text):
        before = _sentence_before(s, candidates)
        terms |= {stem(t) for t in tokenize(before.chunk.text)} if before is not None else set()
    return len(subject & terms) >= SAME_CONTEXT


def _sentence_before(s: Scored, candidates: Sequence[Scored]) -> Scored | None:
    """The candidate sentence of the same document that ends right before ``s`` starts
    (only white space between them), or None."""
    c = s.chunk
    for x in candidates:
        gap = c.start - x.chunk.end
        if x.chunk.doc_id == c.doc_id and 0 <= gap <= 3:
            return x
    return None


def supporting(question: str, candidates: Sequence[Scored]) -> list[Scored]:
    """The supporting sentences of :func:`supporting_values`, best first."""
    return [s for s, _ in supporting_values(question, candidates)]
