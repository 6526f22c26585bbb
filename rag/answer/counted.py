"""What a value question counts, measures or asks about, in English, Vietnamese and Chinese.

A count answers "how many" only when it counts the asked thing: "多少家企业" is answered
by "9家", not "2400人"; "how many trucks" not by "4,6 km"; "bao nhiêu tấn" not by
"4.820 xe". These helpers read the measure word or counted noun a question asks in, tell
measures from counts by their units, and find the attribute a Chinese question asks
about, so the abstention features can tell a value of another thing across languages
(:func:`rag.answer.cjk.across_languages`, :func:`rag.answer.cjk.counted_missing`). Split
from :mod:`rag.answer.cjk`, which keeps the Chinese value picking and the feature
adjustments; only closed classes of units and classifiers, no word of any corpus.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from rag.answer.spans import CJK_UNITS, HAN_RANGE, Span, answer_values, is_cjk_sentence
from rag.lang import detect_language
from rag.text import tokenize

_ASKED_UNIT = re.compile(rf"(?:多少|几)个?({CJK_UNITS}|[{HAN_RANGE}])")
_VALUE_HEAD = re.compile(r"^[$€£¥￥]?[\d.,]+[万亿千百]*(?:多|余)?个?")


def asked_unit(question: str) -> str:
    """The measure word a Chinese question counts in ("多少家企业" -> "家", "多少分钟" ->
    "分钟", "多少辆次" -> "辆次"); "" when it names none ("约占多少？")."""
    m = _ASKED_UNIT.search(question)
    return m.group(1) if m else ""


def _unit_of(value: Span) -> str:
    """The measure word of a CJK value ("1.1万人" -> "人", "11个小时" -> "小时")."""
    return _VALUE_HEAD.sub("", value.text)


# ---------------------------------------------------------------- things counted, not measured

_EN_MEASURES = (
    "tonne tonnes ton tons kilometre kilometres kilometer kilometers km metre metres meter "
    "meters m cm mm hectare hectares ha kg kilogram kilograms g gram grams litre litres "
    "liter liters hour hours minute minutes second seconds day days week weeks month "
    "months year years percent mw megawatt megawatts kw kwh dollar dollars euro euros "
    "pound pounds yuan dong usd square cubic m2 m² m3 m³ %"
)
_VI_MEASURES = "tấn tạ lít héc-ta hecta giờ phút giây ngày tuần tháng năm mét đồng"
_ZH_MEASURES = (
    "吨 万吨 公里 千米 米 厘米 毫米 公斤 千克 克 公顷 亩 升 小时 分钟 秒 秒钟 天 年 个月 月 周 "
    "元 万元 亿元 平方米 平方公里 立方米 百分点"
)
MEASURE_UNITS = frozenset(" ".join((_EN_MEASURES, _VI_MEASURES, _ZH_MEASURES)).split())
"""Units that measure (length, mass, area, volume, time, money, shares) rather than count
things, in the three languages the router detects."""
_HOW_MANY = re.compile(r"\bhow many\s+([^\W\d_][\w-]*)", re.I)
_QUANTITY_UNIT = re.compile(r"^[\d.,\s]+(?:nghìn|ngàn|triệu|tỷ|tỉ|million|billion|thousand)?\s*")


def counts_things(question: str) -> bool:
    """Whether a value question counts things ("how many trucks", "bao nhiêu xe", "多少家")
    rather than asking a measure ("how many tonnes", "bao nhiêu tấn", "多少公里"), by the
    word after its interrogative; False when it names none ("là bao nhiêu?")."""
    lang = detect_language(question) or "en"
    if lang == "zh":
        unit = asked_unit(question)
    elif lang == "vi":
        m = _VI_COUNTED.search(question)
        unit = m.group(1) if m else ""
    else:
        m = _HOW_MANY.search(question)
        unit = m.group(1) if m else ""
    unit = unicodedata.normalize("NFC", unit.lower())
    return bool(unit) and unit not in MEASURE_UNITS


def _is_measure(value: Span) -> bool:
    """Whether an answer value is a measure: money, a share, or a quantity in a measuring
    unit ("4,6 km", "86万吨"); a count of things ("58家", "320 lượt", "113") is not."""
    if value.kind in {"money", "percent"}:
        return True
    if value.kind != "quantity":
        return False
    unit = (
        _unit_of(value)
        if is_cjk_sentence(value.text) or _HAN_HEAD.match(value.text)
        else (_QUANTITY_UNIT.sub("", value.text))
    )
    return unicodedata.normalize("NFC", unit.strip().lower()) in MEASURE_UNITS


_HAN_HEAD = re.compile(r"^[\d.,]+[万亿千百]*[多余]?个?[\u4e00-\u9fff]")


def measured_not_counted(question: str, sentence: str) -> bool:
    """Whether a question counting things meets a sentence whose only values of its kind
    are measures ("How many self-driving trucks ...?" and "… a dedicated route 4,6 km
    long …"): the counted thing under another name, told by units, so in any pair of
    languages."""
    if not counts_things(question):
        return False
    values = answer_values("number", sentence, question)
    return bool(values) and all(_is_measure(v) for v in values)


# ---------------------------------------------------------------- what a count counts

_COUNT_KINDS: dict[str, str] = {  # counted nouns and classifiers in en, vi and zh
    "people": "people persons visitors tourists passengers travellers travelers residents "
    "workers guests người khách 人 名 人次 位",
    "vehicles": "trucks lorries vehicles cars buses xe 辆 辆次",
    "firms": "companies firms enterprises businesses 家 doanh công",
}
_COUNT_KIND_OF = {w: k for k, words in _COUNT_KINDS.items() for w in words.split()}
_GENERIC = {"people": "people", "person": "people", "vehicle": "vehicles", "firm": "firms"}
"""The words that name a kind as a whole (stems): "people" counts visitors and guests."""


def kind_member(term: str, word: str) -> bool:
    """Are ``word`` (as written: "visitors", "trucks") things of the kind the generic
    ``term`` (a stem: "people", "vehicle") names? A kind's member names no other member
    ("residents" asked is not counted by "visitors"), and a singular none ("one person")."""
    kind = _GENERIC.get(term)
    return kind is not None and _COUNT_KIND_OF.get(word.lower()) == kind


_WORDS_AFTER = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")


def _count_kind(words: Sequence[str]) -> str:
    """The kind of thing the first counted noun of ``words`` names ("" when none is
    known): people, vehicles or firms (:data:`_COUNT_KINDS`)."""
    for w in words:
        kind = _COUNT_KIND_OF.get(unicodedata.normalize("NFC", w.lower()))
        if kind:
            return kind
    return ""


def asked_count_kind(question: str) -> str:
    """What a counting question counts, as a kind: "how many (international travel)
    companies" -> firms, "bao nhiêu xe" -> vehicles, "多少辆" -> vehicles; "" when the
    counted noun is none of the known kinds."""
    lang = detect_language(question) or "en"
    if lang == "zh":
        return _COUNT_KIND_OF.get(asked_unit(question), "")
    m = (_VI_COUNTED if lang == "vi" else _HOW_MANY).search(question)
    if m is None:
        return ""
    return _count_kind(_WORDS_AFTER.findall(question[m.start(1) :])[: 2 if lang == "vi" else 4])


def count_kind_rival(question: str, sentence: str) -> bool:
    """Whether a counting question meets a sentence in another language whose counts all
    count another kind of thing: "多少辆" (vehicles) and "150,000 Vietnamese visitors",
    "how many companies" and "215.000 lượt khách". The counted noun is the classifier of
    a Chinese count, one of the two words after a Vietnamese one ("lượt" counts any
    event: "320 lượt xe" counts vehicles), one of the three words after an English
    one; a count whose noun is of no known kind leaves it open (False)."""
    asked = asked_count_kind(question)
    if not asked:
        return False
    values = [  # counts in digits ("first" is an ordinal, "10 months" a measure)
        v
        for v in answer_values("number", sentence, question)
        if not _is_measure(v) and _DIGIT.search(v.text)
    ]
    if not values:
        return False
    kinds = []
    for v in values:
        if is_cjk_sentence(sentence):
            kind = _COUNT_KIND_OF.get(_unit_of(v), "")
        else:
            after = _WORDS_AFTER.findall(sentence[v.start : v.end + 40])
            vi = detect_language(sentence) == "vi"
            kind = _count_kind(after[: 2 if vi else 3])
        if not kind:
            return False
        kinds.append(kind)
    return asked not in kinds


# ---------------------------------------------------------------- the asked attribute

# "……的投资额是多少？": the interrogative and the verb or copula before it; what precedes
# is the asked attribute. "多少家企业": a measure word follows, and the counted thing
# after it is what is asked.
_ASKED = re.compile(
    r"(?:是|为|有|约为|约占|占|达到了?|达|提高到了?|增加到了?|增长到了?|缩短到了?|降低?到了?|"
    r"减少到了?|扩大到了?)?(?:多少|几|多大|多长|多久|多高|多远|多重)"
)
_TAIL = re.compile(rf"^(?:个)?(?:{CJK_UNITS}|[{HAN_RANGE}])?")
_HAN_RUN = re.compile(f"[{HAN_RANGE}]+")
ATTRIBUTE_CHARS = 4
"""Han characters of the asked attribute kept (its head: "进出口总额" -> "出口总额")."""


def cjk_asked_attribute(question: str) -> str:
    """What a Chinese value question asks about: the noun before its interrogative
    ("凭祥冷链仓储中心的投资额是多少？" -> "投资额"), after the last 的 and at most
    :data:`ATTRIBUTE_CHARS` characters, or the counted thing after its measure word
    ("引进了多少家水果加工企业" -> "水果加工企业"); "" when there is none."""
    m = _ASKED.search(question)
    if m is None:
        return ""
    tail = question[m.end() + len(_TAIL.match(question[m.end() :]).group()) :]
    after = _HAN_RUN.match(tail)
    if after:  # "多少家水果加工企业"
        return after.group()
    runs = _HAN_RUN.findall(question[: m.start()])
    if not runs:
        return ""
    head = runs[-1].rsplit("的", 1)[-1]
    return head[-ATTRIBUTE_CHARS:]


def cjk_attribute_missing(question: str, sentence: str) -> bool:
    """Whether a Chinese sentence misses every character bigram of the attribute the
    Chinese question asks about ("投资额" asked, the storage centre's capacity found):
    its value measures something else. False when the sentence is not Chinese, the
    question asks no attribute, or the attribute has no bigram."""
    if not is_cjk_sentence(sentence):
        return False
    terms = set(tokenize(cjk_asked_attribute(question)))
    return bool(terms) and not terms & set(tokenize(sentence))


_VI_COUNTED = re.compile(r"\bbao nhiêu\s+([^\W\d_]+)", re.I)


def vi_counted_missing(question: str, sentence: str) -> bool:
    """Whether a Vietnamese sentence lacks the word a Vietnamese question counts in, the
    one right after "bao nhiêu" ("bao nhiêu tấn" asked, "4.820 xe container" found): its
    number counts something else. False when the sentence is not Vietnamese or nothing
    follows "bao nhiêu" ("… là bao nhiêu?")."""
    m = _VI_COUNTED.search(question)
    if m is None or detect_language(sentence) != "vi":
        return False
    # tone marks kept: folded, "tấn" (tonnes) would be found in "Tân Thanh"
    words = {unicodedata.normalize("NFC", w.lower()) for w in re.findall(r"[^\W\d_]+", sentence)}
    return unicodedata.normalize("NFC", m.group(1).lower()) not in words
