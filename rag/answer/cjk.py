"""Answer values in Chinese (and Japanese) text, and the abstention features across languages.

Chinese writes no spaces and glues numbers to their measure words ("86万吨", "9家"),
so word distances say nothing there: :func:`cjk_pick_value` picks the value of the
asked kind by clause and by the measure word the question counts in ("多少家企业" ->
"9家", not "2400人"), and :func:`cjk_value_window` quotes the clause around it.
:func:`across_languages` neutralises the word-comparing abstention features when the
answer's document is in another language than the question (their words cannot match).
Span typing itself (:func:`rag.answer.spans.value_spans`) reads CJK shapes already;
what a value question counts or measures, in each language, is read by
:mod:`rag.answer.counted`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from rag.answer.counted import (
    _unit_of,
    asked_unit,
    cjk_attribute_missing,
    count_kind_rival,
    measured_not_counted,
    vi_counted_missing,
)
from rag.answer.qtypes import VALUE_TYPES, question_type
from rag.answer.spans import Span, answer_values, stated_numbers, value_spans
from rag.lang import CJK_END_MARKS, detect_language, has_cjk, ordinals, with_question_word
from rag.text import tokenize

_CJK_CLAUSE = re.compile(r"[，,；;：:、。！？!?]")


def _clause_of(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause (between ，；：、 and end marks) holding ``sentence[start:end]``."""
    a = max((m.end() for m in _CJK_CLAUSE.finditer(sentence, 0, start)), default=0)
    m = _CJK_CLAUSE.search(sentence, end)
    return a, (m.start() if m else len(sentence))


def cjk_pick_value(qtype: str, question: str, sentence: str, margin: float = 0.0) -> Span | None:
    """The value of the asked kind that a Chinese sentence offers as the answer.

    Chinese writes no spaces, so word distances say nothing there; instead each value
    scores the question's terms (character bigrams) in its own clause, those before it
    (the subject, the verb) counting double, plus 3 when its measure word is the one the
    question counts in ("多少家企业" is answered by "9家", not "2400人"). None when no
    value leads the next by ``margin`` (the whole sentence answers better)."""
    values = answer_values(qtype, sentence, question)
    if len(values) <= 1:
        return values[0] if values else None
    qterms = set(tokenize(question))
    unit = asked_unit(question)
    scored = []
    for v in values:
        a, b = _clause_of(sentence, v.start, v.end)
        score = 2.0 * len(qterms & set(tokenize(sentence[a : v.start])))
        score += len(qterms & set(tokenize(sentence[v.end : b])))
        if unit and _unit_of(v).startswith(unit):
            score += 3.0
        scored.append((score, v))
    scored.sort(key=lambda sv: -sv[0])
    if scored[0][0] - scored[1][0] < margin:
        return None
    return scored[0][1]


def cjk_value_window(sentence: str, value: Span, max_chars: int = 60) -> str:
    """The clauses of a Chinese sentence around ``value``, at most ``max_chars`` characters
    (CJK clauses are short: a whole sentence usually fits), the value never cut and the
    end mark dropped (the citation marker follows); a cut at the start is marked "…"."""
    a, b = _clause_of(sentence, value.start, value.end)
    cuts = [m for m in _CJK_CLAUSE.finditer(sentence)]
    while True:
        before = [m.end() for m in cuts if m.end() < a]
        after = [m.start() for m in cuts if m.start() > b]
        wider = [(x, b) for x in before[-1:]] + [(a, y) for y in after[:1]]
        if not before and a > 0:
            wider.append((0, b))
        fits = [(x, y) for x, y in wider if y - x <= max_chars]
        if not fits:
            break
        a, b = min(fits, key=lambda span: (span[0] != a, span))  # earlier text first: who
    text = sentence[a:b].strip(" ，,；;：:、")
    end_marks = CJK_END_MARKS + "!?."
    text = text.rstrip(end_marks) if sentence[b:].strip(end_marks + " ") == "" else text
    return ("… " if a > 0 else "") + text


# ---------------------------------------------------------------- across languages


def same_language(question: str, sentence: str) -> bool:
    """Whether ``question`` and ``sentence`` are in one language (English when unsure):
    only then can the question's words (the counted thing of "how many tonnes") be
    looked for in the sentence; "86万吨" cannot hold "tonnes"."""
    return (detect_language(question) or "en") == (detect_language(sentence) or "en")


def counted_missing(question: str, sentence: str) -> bool | None:
    """Whether a value question's counted thing or asked attribute is missing from
    ``sentence``, by the rule of the question's language: Chinese
    (:func:`cjk_attribute_missing`: "商务出行约占多少" and a sentence without 商务出行) or
    Vietnamese (:func:`vi_counted_missing`: "bao nhiêu tấn" and no "tấn"); and, in any
    pair of languages, a Vietnamese or Chinese question asking for money
    (:func:`money_asked`) and a sentence naming none (values are typed in every
    language). Across languages, a question counting things ("how many stalls", "bao
    nhiêu quầy hàng") and a sentence whose values of that kind are all measures ("3,200
    tonnes", "48 tấn": :func:`measured_not_counted`, told by units) miss it too; else
    False there (the words cannot match). None for an English pair, where the English
    count focus decides (:func:`rag.answer.extractive._number_near`)."""
    lang = detect_language(question) or "en"
    if money_asked(question) and not holds_money(sentence):  # typed: in any language
        return True
    if lang != (detect_language(sentence) or "en"):
        return measured_not_counted(question, sentence)
    if lang == "zh":
        return cjk_attribute_missing(question, sentence)
    if lang == "vi":
        return vi_counted_missing(question, sentence)
    return None if lang == "en" else False


WORDING_FEATURES = frozenset(
    [
        "lexical",
        "unfocused",
        "cover",
        "cover_sentence",
        "missing_rare",
        "missing_known",
        "missing_unknown",
        "names_missing",
        "names_missing_doc",
        "modifier_missing",
        "qualifier_missing_near",
        "names_missing_idf",
        "rival_qualifier",
        "focus_conflict",
        "rank_mismatch",
        "modifier_rival",
        "modifier_dropped",
        "role_missing",
        "calendar_rival",
        "partitive_missing",
        "place_absent",
        "name_rival",
        "comparison_reversed",
        "roles_reversed",
    ]
)
"""Abstention features that compare the question's words (terms, names, titles,
modifiers, English number words) with the sentence's: they say nothing when the two are
in different languages ("Youyi Guan" is 友谊关), where they would refuse every answer."""


def across_languages(
    names: Sequence[str],
    x: list[float],
    neutral: Callable[[], Sequence[float]],
    question: str,
    sentence: str,
    doc_text: str,
) -> list[float]:
    """The abstention features ``x`` (named ``names``) of a sentence whose document is in
    another language than the question: the wording features take their ``neutral``
    values (``neutral()``: the fitted model's means, no evidence either way; only called
    here, so a refit over English data never needs a fitted model) and the number
    features compare digits only. ``x`` itself when the languages are the same."""
    q_lang = detect_language(question) or "en"
    if q_lang == (detect_language(doc_text[:1000]) or "en"):
        if q_lang == "en":
            return x
        out = _with_encoder_neutral(names, x, neutral, ENGLISH_RULE_FEATURES)
        out = _with_rank_rival(names, _with_untyped(names, out, question), question, sentence)
        out = _with_money_absent(
            names, _with_rival_year(names, out, question, sentence), question, sentence
        )
        missing = (
            cjk_attribute_missing(question, sentence)
            or vi_counted_missing(question, sentence)
            or measured_not_counted(question, sentence)
        )
        if "focus_conflict" in names and missing:
            out = list(out)
            out[list(names).index("focus_conflict")] = 1.0
        return out
    out, means = list(x), neutral()
    asked = stated_numbers(question, words=False)
    for i, name in enumerate(names):
        if name in WORDING_FEATURES or name in ENCODER_FEATURES:
            out[i] = float(means[i])
        elif name == "numbers_missing":
            out[i] = float(bool(asked - stated_numbers(sentence, words=False)))
        elif name == "numbers_missing_doc":
            out[i] = float(bool(asked - stated_numbers(doc_text, words=False)))
    if "focus_conflict" in names and (
        measured_not_counted(question, sentence) or count_kind_rival(question, sentence)
    ):
        out[list(names).index("focus_conflict")] = 1.0
    out = _with_untyped(names, out, question, across=True)
    out = _with_rank_rival(
        names, _with_rival_year(names, out, question, sentence), question, sentence
    )
    return _with_money_absent(names, out, question, sentence)


ENCODER_FEATURES = frozenset(["dense_max"])
"""Abstention features that read a retrieval cosine as it is. Outside English the
passages were scored by the multilingual encoder, whose cosines sit near 0.8 for any
text where the main encoder's (the model's scale) sit near 0.5: read raw, they vouch for
every answer. They take the model's mean there; the sentence's own similarity
(``semantic``) is put on the main encoder's scale before it gets here
(:func:`rag.retrieve.routing.calibrated_similarity`)."""


ENGLISH_RULE_FEATURES = frozenset(
    [
        "unfocused",
        "modifier_missing",
        "focus_conflict",
        "rank_mismatch",
        "modifier_rival",
        "modifier_dropped",
        "role_missing",
        "calendar_rival",
        "partitive_missing",
        "direction_reversed",
        "filler_rival",
        "place_absent",
        "comparison_reversed",
        "roles_reversed",
    ]
)
"""Abstention features read by English phrase rules (a count after "how many", a modifier
before its noun, "Deputy" before a title, "from A into B", month and weekday names,
"in"/"at" before a place).
On a Vietnamese or Chinese question over text in its own language they match nothing
meant or the wrong words (Vietnamese puts modifiers after the noun; capitalised agency
names read as ranked titles), so they take their neutral values there; term overlap
(``lexical``, ``cover``, ``missing_*``) and names still compare, and the asked attribute
or counted word of the question's own language sets ``focus_conflict``
(:func:`cjk_attribute_missing`, :func:`vi_counted_missing`)."""


def _with_untyped(
    names: Sequence[str], x: list[float], question: str, across: bool = False
) -> list[float]:
    """``x`` with ``strict_untyped`` set for a Vietnamese or Chinese count or measure
    question ("bao nhiêu", "多少") whose sentence holds no value of the asked kind
    (``typed`` at most 0.2): the caller types the question by its English words, so
    that feature never fires for those questions otherwise. Likewise for a who-question
    in those languages, or in any language over a sentence in another (``across``),
    whose sentence names no person or organisation (``typed`` below 1: "Ai là Giám
    đốc …?" and "… the market's management board said on Monday"): there the post's
    words cannot be compared (``role_missing`` is neutral), and a sentence naming no one
    cannot say who."""
    if "strict_untyped" not in names or "typed" not in names:
        return x
    english = (detect_language(question) or "en") == "en"
    if english and not across:
        return x
    qtype = question_type(with_question_word(question))
    typed = x[list(names).index("typed")]
    if qtype == "person":
        if typed >= 1.0:
            return x
    elif english or qtype not in VALUE_TYPES - {"date"}:
        return x  # a date question may be answered by "by year-end" (abstain.features)
    elif typed > 0.2:
        return x
    out = list(x)
    out[list(names).index("strict_untyped")] = 1.0
    return out


def _with_encoder_neutral(
    names: Sequence[str],
    x: list[float],
    neutral: Callable[[], Sequence[float]],
    also: frozenset[str] = frozenset(),
) -> list[float]:
    """``x`` with the :data:`ENCODER_FEATURES` (and ``also``) at their ``neutral`` values."""
    means = neutral()
    keep = ENCODER_FEATURES | also
    return [
        float(means[i]) if n in keep else v for i, (n, v) in enumerate(zip(names, x, strict=True))
    ]


_YEAR = re.compile(r"(?<!\d)(?<!\d[.,])(?:19|20)\d{2}(?!\d|[.,]\d)")


def rival_year(question: str, sentence: str) -> bool:
    """Whether the question asks about a year the sentence does not name while the
    sentence names another ("2024年…" asked, "In 2025, …" found): the near miss of
    another year, told by digits alone, so in any pair of languages."""
    asked = set(_YEAR.findall(question))
    found = set(_YEAR.findall(sentence))
    return bool(asked) and not asked & found and bool(found)


def rival_ordinal(question: str, sentence: str) -> bool:
    """Whether the question asks about the n-th event of a series ("第16次会议",
    "lần thứ 16", "the 16th meeting") and the sentence answers about another one, told by
    the ordinals' numbers alone, so in any pair of languages: the sentence names only
    other ordinals, or names the asked one too but its values of the asked kind all
    stand nearer (in characters) to another ("the 16th meeting … and the 17th meeting in
    Nanning" for "where was the 16th held?")."""
    asked = {n for n, _, _ in ordinals(question)}
    found = ordinals(sentence)
    if not asked or not found:
        return False
    if not asked & {n for n, _, _ in found}:
        return True
    if all(n in asked for n, _, _ in found):
        return False
    qtype = question_type(with_question_word(question))
    values = answer_values(qtype, sentence, question)
    values = [v for v in values if v.kind == qtype] or values
    if not values:
        return False

    def nearest(v: Span) -> int:
        return min(found, key=lambda o: min(abs(o[1] - v.end), abs(v.start - o[2])))[0]

    return all(nearest(v) not in asked for v in values)


def _with_rival_year(
    names: Sequence[str], x: list[float], question: str, sentence: str
) -> list[float]:
    """``x`` with ``rival_qualifier`` set when :func:`rival_year` or
    :func:`rival_ordinal` holds: the English rule behind that feature reads English words
    ("in 2024", "the 17th"), so a Vietnamese or Chinese question, or a sentence in
    another language, never set it."""
    if "rival_qualifier" not in names or not (
        rival_year(question, sentence) or rival_ordinal(question, sentence)
    ):
        return x
    out = list(x)
    out[list(names).index("rival_qualifier")] = 1.0
    return out


# ---------------------------------------------------------------- a post at another rank

_POST_KINDS: dict[str, tuple[str, ...]] = {  # one kind of post in en, vi and zh
    "chair": ("chairman", "chairwoman", "chair", "president", "chủ tịch", "主席", "董事长"),
    "secretary": ("secretary", "bí thư", "书记"),
    "director": ("director", "giám đốc", "局长", "主任", "cục trưởng", "viện trưởng", "院长"),
    "manager": ("general manager", "manager", "tổng giám đốc", "总经理", "经理"),
    "head": ("head", "chief", "trưởng ban", "trưởng phòng", "trưởng đoàn", "团长", "所长"),
    "commander": ("commander", "chỉ huy trưởng", "司令员"),
    "premier": ("premier", "prime minister", "thủ tướng", "总理"),
    "minister": ("minister", "bộ trưởng", "部长"),
    "mayor": ("mayor", "governor", "市长", "省长", "县长", "chủ nhiệm"),
}
_KIND_OF = {w: kind for kind, words in _POST_KINDS.items() for w in words}
_POSTS = re.compile(
    "|".join(  # longest first; Latin posts as whole words (Han has no word boundaries)
        re.escape(w) if has_cjk(w) else rf"(?<!\w){re.escape(w)}(?!\w)"
        for w in sorted(_KIND_OF, key=len, reverse=True)
    ),
    re.I,
)
_DEPUTY_BEFORE = re.compile(r"(?:\b(?:deputy|vice|assistant|acting)[\s-]+|\bphó\s+|副)$", re.I)


def _posts(text: str) -> list[tuple[str, bool]]:
    """For each post a text names ("Chairman", "Phó Chủ tịch", "副局长"): its kind
    (:data:`_POST_KINDS`, the same in the three languages) and whether a deputy's mark
    stands right before it (English deputy/vice, Vietnamese phó, Chinese 副)."""
    low = unicodedata.normalize("NFC", text)
    return [
        (
            _KIND_OF[m.group().lower()],
            bool(_DEPUTY_BEFORE.search(low[max(0, m.start() - 12) : m.start()])),
        )
        for m in _POSTS.finditer(low)
    ]


def rank_rival(question: str, sentence: str) -> bool:
    """Whether a who-question asks for a post at one rank and the sentence names that
    kind of post only at the other: "Who is the Chairman …?" and "Ông …, Phó Chủ tịch
    UBND huyện, …" (every post named is a deputy's), or "Ai là Phó Giám đốc …?" and a
    sentence whose posts carry no deputy's mark. Posts of the asked kind are compared
    when the sentence names one ("Who is the Party Secretary?" and "Deputy Secretary …
    and Chairman …"), else all its posts. Read by the posts and deputy marks of the
    three languages, so in any pair; the English rule behind ``rank_mismatch`` reads English
    titles only. False when either names no post."""
    if question_type(with_question_word(question)) != "person":
        return False
    asked, found = _posts(question), _posts(sentence)
    if not asked or not found:
        return False
    kind, deputy = asked[-1]  # the post asked: "Phó Chủ tịch UBND huyện" -> chair, deputy
    same = [d for k, d in found if k == kind] or [d for _, d in found]
    return not any(same) if deputy else all(same)


def _with_rank_rival(
    names: Sequence[str], x: list[float], question: str, sentence: str
) -> list[float]:
    """``x`` with ``rank_mismatch`` set when :func:`rank_rival` holds."""
    if "rank_mismatch" not in names or not rank_rival(question, sentence):
        return x
    out = list(x)
    out[list(names).index("rank_mismatch")] = 1.0
    return out


_ZH_MONEY = re.compile(
    r"(?:总|贸易|投资|交易|成交|销售|营业|进出口|出口|进口|互市贸易)额|金额|价格|价值|费用|成本|"
    r"多少钱|资金|预算|收入|利润|产值|营收|票价|花费"
)
_VI_MONEY = re.compile(
    r"\b(?:kim ngạch|giá trị|bao nhiêu tiền|chi phí|kinh phí|vốn|doanh thu|ngân sách|"
    r"lợi nhuận|thu nhập|giá vé|giá bán|giá cả|tiền)\b",
    re.I,
)


def money_asked(question: str) -> bool:
    """Whether a Vietnamese or Chinese question asks for an amount of money ("进出口总额是
    多少", "kim ngạch … đạt bao nhiêu", "tổng vốn đầu tư"), by the words those languages
    name money with; False for English questions (the English rule decides there,
    ``rag.answer.abstain``)."""
    lang = detect_language(question) or "en"
    if lang == "zh":
        return bool(_ZH_MONEY.search(question))
    if lang == "vi":
        return bool(_VI_MONEY.search(unicodedata.normalize("NFC", question)))
    return False


def holds_money(sentence: str) -> bool:
    """Whether a sentence in any language names an amount of money or a share of one
    ("1.100 tỷ đồng", "312亿元", "$3.2 billion", "16%")."""
    return any(v.kind in {"money", "percent"} for v in value_spans(sentence))


def _with_money_absent(
    names: Sequence[str], x: list[float], question: str, sentence: str
) -> list[float]:
    """``x`` with ``money_absent`` set when a Vietnamese or Chinese question asks for money
    (:func:`money_asked`) and the sentence, in any language, names none (nor a share):
    the English rule behind that feature reads English questions only."""
    if "money_absent" not in names or not money_asked(question):
        return x
    if holds_money(sentence):
        return x
    out = list(x)
    out[list(names).index("money_absent")] = 1.0
    return out
