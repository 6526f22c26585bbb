"""Cheap language detection for routing questions: script and Vietnamese diacritics.

A question is routed to the multilingual index when it is not English (issue 16).
That decision must cost microseconds, not a model: Chinese (and Japanese, Korean) is
told by its script, Vietnamese by letters no other Latin-script language in this
corpus uses (ă â đ ê ô ơ ư, and vowels with a dot below or a hook above) or by
stacked tone marks, and anything else in Latin script counts as English. Names with
Vietnamese diacritics inside an English question ("Who chairs Lạng Sơn?") must not
make it Vietnamese, so Vietnamese needs a share of such words, not one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Letters that only Vietnamese writes (among the languages this project meets):
# the breve/circumflex/horn vowels and đ, with or without a tone mark.
_VI_BASES = frozenset("ăâđêôơư")
# Tone marks: grave, acute, tilde, hook above, dot below (combining forms after NFD).
_VI_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Tones that mark Vietnamese on their own: hook above and dot below (French, Spanish,
# Portuguese use grave/acute/tilde, none of them these two).
_VI_ONLY_TONES = frozenset("\u0309\u0323")
VI_WORD_SHARE = 0.4  # share of Latin words with Vietnamese marks that makes a text Vietnamese
# English function words: a question that has more of these than Vietnamese-marked
# words is English with Vietnamese names in it ("Where is Hữu Nghị?").
_EN_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "not",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
    ]
)


@lru_cache(maxsize=8192)
def _script(ch: str) -> str | None:
    """ "han", "kana", "hangul", "latin" or None (digits, punctuation, other scripts)."""
    cp = ord(ch)
    if cp < 0x80:  # ASCII, most of any Latin text: no Unicode name lookup
        return "latin" if ch.isalpha() else None
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF:
        return "kana"
    if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF:
        return "han"
    if 0x20000 <= cp <= 0x2FA1F:
        return "han"
    if ch.isalpha() and "LATIN" in unicodedata.name(ch, ""):
        return "latin"
    return None


@lru_cache(maxsize=65536)
def is_vietnamese_word(word: str) -> bool:
    """Whether a Latin word carries a mark only Vietnamese uses (ơ, ư, đ, ạ, ả, ế, ...)."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    bases = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _VI_TONES))
    if any(c in _VI_BASES for c in bases):
        return True
    if any(c in _VI_ONLY_TONES for c in decomposed):
        return True
    return sum(1 for c in decomposed if c in _VI_TONES) >= 2  # two tones in one syllable: rare


@lru_cache(maxsize=4096)
def detect_language(text: str) -> str:
    """The language of ``text``: "zh", "ja", "ko", "vi", "en", or "" when it has no letters.

    Han characters make a text Chinese unless kana (Japanese) appear; Hangul makes it
    Korean; a Latin text is Vietnamese when at least :data:`VI_WORD_SHARE` of its words
    (and at least two, or the only one) carry Vietnamese-only marks and they outnumber
    its English function words, else English. Words with a single acute, grave or tilde
    count towards the share (not towards the two). Vietnamese typed without diacritics
    counts as English (the English index's BM25 folds diacritics, so it still matches).
    """
    counts: dict[str, int] = {}
    for ch in text:
        script = _script(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    if counts.get("kana"):
        return "ja"
    if counts.get("hangul", 0) > counts.get("han", 0):
        return "ko"
    if counts.get("han", 0) and counts["han"] * 8 >= counts.get("latin", 0):
        return "zh"  # a Chinese question may carry a Latin name or two
    if not counts.get("latin"):
        return ""
    words = ["".join(c for c in w if c.isalpha()) for w in text.split()]
    words = [w for w in words if w and _script(w[0]) == "latin"]
    marked = sum(1 for w in words if is_vietnamese_word(w))
    # a syllable with one acute, grave or tilde ("giá", "bình", "xã") is Vietnamese too
    # once the text is (French and Spanish words have them as well: not alone)
    toned = marked + sum(1 for w in words if not is_vietnamese_word(w) and _has_tone(w))
    english = sum(1 for w in words if w.lower() in _EN_WORDS)
    enough = marked >= 2 or len(words) == 1
    if enough and toned >= VI_WORD_SHARE * len(words) and marked > english:
        return "vi"
    return "en"


def _has_tone(word: str) -> bool:
    """Whether a Latin word carries a tone mark Vietnamese writes (grave, acute, tilde,
    hook above, dot below)."""
    return any(c in _VI_TONES for c in unicodedata.normalize("NFD", word))


def needs_multilingual(text: str) -> bool:
    """Whether a question should go through the multilingual index (not English)."""
    return detect_language(text) not in ("en", "")


def localized(phrases: dict[str, str], lang: str, english: str) -> str:
    """The phrase for ``lang`` from a ``rag.prompts`` table, else the ``english`` one."""
    return phrases.get(lang, english)


def language_name(code: str, in_lang: str) -> str:
    """The name of language ``code`` written in ``in_lang`` ("zh" in "vi": "tiếng Trung"),
    falling back to English names, then to the code itself."""
    from rag.prompts import LANGUAGE_NAMES

    return LANGUAGE_NAMES.get(in_lang, {}).get(code) or LANGUAGE_NAMES["en"].get(code, code)


# Interrogatives of other languages -> the English question words the answer step's
# question typing reads ("how many" wants a number, "who" a person). Most specific first.
_QUESTION_WORDS: dict[str, list[tuple[str, str]]] = {
    "vi": [
        (r"\bbao nhiêu\b|\bmấy\b", "how many"),
        (r"\bkhi nào\b|\bbao giờ\b|\blúc nào\b|\bngày nào\b|\bnăm nào\b|\bthời gian nào\b", "when"),
        (r"\bở đâu\b|\btại đâu\b|\bnơi nào\b|\bđâu\b|\bthành phố nào\b|\btỉnh nào\b", "where"),
        (r"^ai\b|\bai là\b|\blà ai\b|\bai đã\b|\bngười nào\b", "who"),
        (r"\bvì sao\b|\btại sao\b", "why"),
        (r"\bnào\b", "which"),
        (r"\bgì\b", "what"),
    ],
    "zh": [
        (r"多少|几[个位家次辆条项名人万千百]", "how many"),
        (r"什么时候|何时|哪一?年|哪一?天|几月|几号|何日", "when"),
        (r"哪里|哪儿|在哪|何地|哪座城市|哪个城市|哪个省", "where"),
        (r"谁|哪位", "who"),
        (r"为什么|为何", "why"),
        (r"哪", "which"),
        (r"什么", "what"),
    ],
}


def english_question_word(question: str) -> str:
    """The English question word for a Vietnamese or Chinese question ("" if none or
    English): "Ai là Chủ tịch?" -> "who", "有多少家企业？" -> "how many"."""
    lang = detect_language(question)
    low = question.lower()
    for pattern, word in _QUESTION_WORDS.get(lang, []):
        if re.search(pattern, low):
            return word
    return ""


def with_question_word(question: str) -> str:
    """``question`` with its English question word appended in parentheses, so the answer
    step (which types questions by English wording) knows what kind of value is asked."""
    word = english_question_word(question)
    return f"{question} ({word})" if word else question


# ---------------------------------------------------------------- scripts without spaces
# Chinese and Japanese write no spaces between words, so rules that count words by
# splitting on spaces (a heading is a short line, a title has few words) see a whole
# sentence as one "word". These helpers give such text a word count comparable to
# English; text without CJK characters is counted exactly as ``len(text.split())``.

_CJK_CHARS = (
    "\u3040-\u30ff\u31f0-\u31ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\uac00-\ud7af"  # Hangul syllables
)
_CJK_PUNCT = (
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # 。，、「」！？：；（）
)
_CJK = re.compile(f"[{_CJK_CHARS}]")
_CJK_OR_PUNCT = re.compile(f"[{_CJK_CHARS}{_CJK_PUNCT}]")
CJK_CHARS_PER_WORD = 2.0
"""CJK characters per word-equivalent: a Chinese word averages 1.5 to 2 characters (most
are one or two), so a 20-character Chinese line reads about as long as 10 English words."""
CJK_END_MARKS = "。！？"
"""Full-width marks that end a sentence (:func:`rag.text.sentence_spans` cuts after them)."""


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese, Japanese or Korean character."""
    return _CJK.search(text) is not None


def cjk_share(text: str) -> float:
    """The share of ``text``'s non-space characters that are CJK letters (0 for none)."""
    chars = [c for c in text if not c.isspace()]
    return sum(1 for c in chars if _CJK.match(c)) / len(chars) if chars else 0.0


def word_count(text: str) -> float:
    """The words of ``text`` as English would count them: space-separated words, with
    CJK characters counted as word-equivalents (:data:`CJK_CHARS_PER_WORD` to a word) and
    CJK punctuation not counted. Exactly ``len(text.split())`` for text without CJK."""
    if not has_cjk(text):
        return float(len(text.split()))
    n_cjk = len(_CJK.findall(text))
    rest = _CJK_OR_PUNCT.sub(" ", text)
    return len(rest.split()) + n_cjk / CJK_CHARS_PER_WORD


# ---------------------------------------------------------------- Vietnamese value shapes
# Vietnamese writes "4,6 km" (decimal comma), "4.820 xe" (thousands point), "ngày 15
# tháng 10 năm 2025" and "tháng 3/2024" (dates in words), "1.100 tỷ đồng" (money). The
# English shapes of rag.answer.spans read "4,6" as "6" after a comma and "tháng 10" as a
# count; these are tried first in sentences detected as Vietnamese, and only there.
_VI_NUM = r"(?<![\w.,])\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\d.])|(?<![\w.,])\d+(?:,\d+)?(?![\d.,])"
# measure words (a counted noun of two syllables, "14 doanh nghiệp", is not cut in half:
# the number alone is the value there)
_VI_UNITS = (
    "tấn|tạ|lít|héc-ta|hecta|giờ|phút|giây|ngày|tuần|tháng|năm|lần|lượt|chuyến|ca|người|"
    "xe|chiếc|cái|con|đoàn|mét|cây số|ha|km|m|cm|mm|kg|g|m2|m²|m3|m³|MW|kW|kWh|TEU"
)
VI_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "money",
        re.compile(
            rf"(?:{_VI_NUM})\s*(?:(?:nghìn|ngàn|triệu|tỷ|tỉ)\s+)?"
            r"(?:đồng|USD|nhân dân tệ|NDT|tệ|đô la)(?:/\w+)?(?!\w)"
        ),
    ),
    ("percent", re.compile(rf"(?:{_VI_NUM})\s*%")),
    (
        "date",
        re.compile(
            r"(?<!\w)(?:ngày\s+\d{1,2}(?:\s+tháng\s+\d{1,2}|/\d{1,2})?(?:(?:\s+năm\s+|/)\d{4})?"
            r"|tháng\s+\d{1,2}(?:(?:\s+năm\s+|/)\d{4})?|năm\s+\d{4})(?![\w/])",
            re.I,
        ),
    ),
    (
        "quantity",
        re.compile(
            rf"(?:{_VI_NUM})\s*(?:(?:nghìn|ngàn|triệu|tỷ|tỉ)\s+)?"
            rf"(?:{_VI_UNITS})(?![\w²³])"
        ),
    ),
    ("number", re.compile(rf"(?:{_VI_NUM})(?!\w)")),
)
"""Typed values of Vietnamese text, (kind, pattern), most specific first."""


# ---------------------------------------------------------------- Chinese numerals and names
# Typed as values by rag.answer.spans (the digit shapes are there): here because they
# are language data, like the Vietnamese shapes above.
_HAN_RANGE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_UNITS = (  # measure words of two or more characters (one-character ones are generic)
    "小时|分钟|秒钟|公里|千米|厘米|毫米|公斤|千克|平方公里|平方米|立方米|公顷|人次|辆次|架次|"
    "艘次|标箱|个月|周年|百分点"
)
# numbers in Chinese numerals: "九家" (nine companies), "两百多人", "四成" (four tenths).
# A numeral run counts only before a measure word (or, for a bare number, when it holds
# a magnitude: "两百"), never after 第 (an ordinal) or another numeral character, and a
# lone 一 not at all: it is part of countless words (一站式, 统一, 进一步).
_HAN_NUMERALS = "零〇一二两三四五六七八九十百千万亿"
_HAN_NUM = (
    rf"(?<![第{_HAN_NUMERALS}])(?:[{_HAN_NUMERALS}]{{2,}}|[零〇二两三四五六七八九十])(?:多|余)?"
)
_HAN_CLASSIFIERS = "个家名位人条项辆次座台架艘吨件种批所起例只张份户对趟班列倍"
HAN_PERCENT = re.compile(rf"{_HAN_NUM}成(?:以上|左右|多)?")
HAN_QUANTITY = re.compile(rf"{_HAN_NUM}(?:个)?(?:{CJK_UNITS}|[{_HAN_CLASSIFIERS}])")
HAN_NUMBER = re.compile(
    rf"(?<![第{_HAN_NUMERALS}])(?=[{_HAN_NUMERALS}]*[十百千万亿])[{_HAN_NUMERALS}]{{2,}}"
    rf"(?![{_HAN_NUMERALS}])"
)
# Chinese person names: a common surname and one or two characters, right after a post
# ("局长陈丽华介绍") or right before a verb of saying ("陈丽华表示"); the post or the
# verb is what tells a name from any three characters.
_HAN_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史"
    "陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤农阮黄潘"
)
_HAN_POSTS = (
    "局长|厅长|部长|市长|省长|县长|区长|镇长|主席|主任|书记|团长|队长|司令员?|处长|科长|院长|"
    "校长|所长|站长|经理|总经理|董事长|总裁|行长|会长|社长|负责人|发言人|专家|教授|上校|大校|"
    "少将|中将|将军|先生|女士"
)
_HAN_SAYS = "介绍|表示|说|指出|称|认为|强调|透露|告诉|宣布|提出|透露"


class _Group:
    """A pattern whose matches are its ``v`` group (what a look-behind of variable width
    would give): the post before a name is read, not typed."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        for m in self.pattern.finditer(text):
            yield _GroupMatch(m)


class _GroupMatch:
    def __init__(self, m: re.Match[str]) -> None:
        self.m = m

    def span(self) -> tuple[int, int]:
        return self.m.span("v")

    def group(self) -> str:
        return self.m.group("v")


HAN_PERSONS = (
    _Group(
        rf"(?:{_HAN_POSTS})(?P<v>[{_HAN_SURNAMES}][{_HAN_RANGE}]{{1,2}}?)"
        rf"(?=(?:{_HAN_POSTS})?(?:{_HAN_SAYS})|[，,。、；（(])"
    ),
    _Group(
        rf"(?:^|(?<=[，,。、；：:“\"]))(?P<v>[{_HAN_SURNAMES}][{_HAN_RANGE}]{{1,2}}?)"
        rf"(?=(?:{_HAN_POSTS})?(?:{_HAN_SAYS}))"
    ),
)
"""Chinese person names: after a post, or before a verb of saying."""


# ---------------------------------------------------------------- background sentences
# The same twenty everyday sentences in each language the router detects (written for
# this project; no topic of any corpus). A multilingual encoder's cosine between a
# question and text in language L has a level of its own per pair of languages (e5: a
# Vietnamese question scores unrelated Vietnamese text ~0.1 above unrelated English),
# so :func:`rag.retrieve.routing.calibrated_similarity` reads a sentence's cosine against
# the question's cosines to these: how far it stands out of unrelated text in its own
# language. Parallel translations, so only the language differs between the sets.
BACKGROUND_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The weather stayed mild and dry for most of the week.",
        "She baked a loaf of bread with flour, water and a little salt.",
        "The football match ended in a draw after extra time.",
        "Students must hand in their essays before the end of the month.",
        "The orchestra played a new symphony to a full concert hall.",
        "Regular exercise and enough sleep help to prevent many illnesses.",
        "The new phone has a larger screen and a longer battery life.",
        "Tourists crowded the old town square on Saturday afternoon.",
        "The library will close early on public holidays.",
        "Farmers planted maize after the first heavy rains of spring.",
        "The museum opened an exhibition of paintings from the last century.",
        "A small fire in the kitchen was put out by the neighbours.",
        "The company hired twelve new engineers last year.",
        "Children learn to swim faster when lessons start early.",
        "The bridge was repainted and reopened to cyclists.",
        "Prices of vegetables rose slightly at the local market.",
        "The author signed copies of her latest novel at the bookshop.",
        "Heavy traffic delayed the morning buses by twenty minutes.",
        "The hospital added a new wing for children's care.",
        "Volunteers cleaned the beach and collected plastic waste.",
    ),
    "vi": (
        "Thời tiết ôn hòa và khô ráo trong phần lớn tuần.",
        "Cô ấy nướng một ổ bánh mì bằng bột, nước và một chút muối.",
        "Trận bóng đá kết thúc với tỷ số hòa sau hiệp phụ.",
        "Học sinh phải nộp bài luận trước cuối tháng.",
        "Dàn nhạc đã biểu diễn một bản giao hưởng mới trước khán phòng chật kín.",
        "Tập thể dục đều đặn và ngủ đủ giấc giúp phòng ngừa nhiều bệnh.",
        "Chiếc điện thoại mới có màn hình lớn hơn và pin dùng lâu hơn.",
        "Du khách đông đúc ở quảng trường phố cổ vào chiều thứ Bảy.",
        "Thư viện sẽ đóng cửa sớm vào các ngày lễ.",
        "Nông dân trồng ngô sau những trận mưa lớn đầu tiên của mùa xuân.",
        "Bảo tàng khai mạc triển lãm tranh từ thế kỷ trước.",
        "Một đám cháy nhỏ trong bếp đã được hàng xóm dập tắt.",
        "Công ty đã tuyển mười hai kỹ sư mới vào năm ngoái.",
        "Trẻ em học bơi nhanh hơn khi bắt đầu học sớm.",
        "Cây cầu được sơn lại và mở cửa trở lại cho người đi xe đạp.",
        "Giá rau tăng nhẹ tại chợ địa phương.",
        "Nữ tác giả ký tặng cuốn tiểu thuyết mới nhất của mình tại hiệu sách.",
        "Giao thông đông đúc khiến xe buýt buổi sáng bị trễ hai mươi phút.",
        "Bệnh viện đã xây thêm một khu mới để chăm sóc trẻ em.",
        "Tình nguyện viên dọn dẹp bãi biển và thu gom rác thải nhựa.",
    ),
    "zh": (
        "这一周的大部分时间天气温和干燥。",
        "她用面粉、水和一点盐烤了一条面包。",
        "这场足球比赛在加时赛后以平局结束。",
        "学生必须在月底之前交上论文。",
        "乐团在座无虚席的音乐厅演奏了一首新的交响曲。",
        "经常锻炼和充足的睡眠有助于预防许多疾病。",
        "这款新手机的屏幕更大，电池续航更长。",
        "星期六下午，游客挤满了老城广场。",
        "图书馆在公共假日会提前关门。",
        "春天第一场大雨过后，农民种下了玉米。",
        "博物馆举办了一个上世纪绘画作品展。",
        "厨房里的一场小火被邻居扑灭了。",
        "这家公司去年招聘了十二名新工程师。",
        "孩子们越早开始上课，学游泳就越快。",
        "这座桥重新粉刷后再次向骑车人开放。",
        "当地市场的蔬菜价格略有上涨。",
        "这位作家在书店为她的新小说签名。",
        "交通拥堵使早班公交车晚点了二十分钟。",
        "医院新建了一栋儿童护理楼。",
        "志愿者清理了海滩并收集了塑料垃圾。",
    ),
}


# ordinals in the three languages: "16th", "第16次" / "第十六届", "lần thứ 16": the near
# miss of another event in a series is told by its number in any pair of languages
_ORDINAL = re.compile(
    r"(?<![\w])(\d{1,4})(?:st|nd|rd|th)\b"
    r"|第\s*(\d{1,4}|[一二两三四五六七八九十百]{1,4})"
    r"|\blần\s+thứ\s+(\d{1,4})\b|\bthứ\s+(\d{2,4})\b",
    re.I,
)
_HAN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def _han_ordinal(text: str) -> int | None:
    """A Chinese numeral below 1,000 as an int ("十六" -> 16, "二十" -> 20, "一百零五" is
    not read: None)."""
    total, digit = 0, 0
    for ch in text:
        if ch in _HAN_DIGITS:
            digit = _HAN_DIGITS[ch]
        elif ch in "十百":
            total += (digit or 1) * (10 if ch == "十" else 100)
            digit = 0
        else:
            return None
    return total + digit or None


# a numbered stage of a project or series: "phase two", "Phase 2", "the second phase",
# "一期工程" / "二期", "giai đoạn 2" / "giai đoạn hai", "đợt 3" (a period "giai đoạn
# 2021-2025" is not one: at most two digits, no range after them)
_STAGE_NOUNS = r"phase|stage|round|tranche|batch|wave"
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
    "một": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4,
}  # fmt: skip
_STAGE = re.compile(
    rf"\b(?:{_STAGE_NOUNS})\s+(\d{{1,2}}|one|two|three|four|five|six|seven|eight|nine|ten)\b"
    r"(?![-–.,]?\d)"
    rf"|\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s+(?:{_STAGE_NOUNS})\b"
    r"|(?<![第\d一二两三四五六七八九十])([一二两三四五六七八九十]|\d{1,2})期(?=工程|项目|建设|投资|$|[，。、的将已于计建])"
    r"|\b(?:giai đoạn|đợt)\s+(\d{1,2}|một|hai|ba|bốn|tư)\b(?![-–.,]?\d)",
    re.I,
)


def ordinals(text: str) -> list[tuple[int, int, int]]:
    """The ordinals ``text`` states, as (number, start, end): "the 16th meeting",
    "第16次会议", "第十六届", "Hội nghị lần thứ 16" (Vietnamese "thứ" before a one-digit
    number is a weekday, "thứ 2": not read), and the numbered stages of a series
    (:data:`_STAGE`: "phase two", "二期", "giai đoạn 2")."""
    out = []
    for m in _ORDINAL.finditer(text):
        raw = next(g for g in m.groups() if g)
        n = int(raw) if raw.isdigit() else _han_ordinal(raw)
        if n is not None:
            out.append((n, m.start(), m.end()))
    for m in _STAGE.finditer(text):
        raw = next(g for g in m.groups() if g)
        low = raw.lower()
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(low) or _han_ordinal(raw)
        if n is not None:
            out.append((n, m.start(), m.end()))
    return sorted(out, key=lambda o: o[1])
