"""Glossaries across languages: posts and counted things in English, Vietnamese, Chinese.

Some words of a question cannot be compared with a sentence in another language by
spelling: "Chỉ huy trưởng" is "Commander", 团长 the head of a delegation, "doanh nghiệp"
and 企业 are companies. The abstention features that compare words say nothing across
languages (:func:`rag.answer.cjk.across_languages`), so a Vietnamese or Chinese "who"
question was answered by any English sentence naming a person, and "how many companies"
by any number. These small glossaries of common posts and counted things (no names, no
topic of any corpus) let the answer step check those two across languages
(:func:`post_missing`, :func:`counted_thing`).
"""

from __future__ import annotations

import re
import unicodedata

from rag.lang import EN_FUNCTION_WORDS, detect_language, has_cjk

# Words that cannot be compared across languages by spelling ("Chỉ huy trưởng" is
# "Commander", 团长 "head of the delegation"), given as small glossaries: each entry holds
# the forms of one meaning in English, Vietnamese and Chinese. Only common posts and
# common counted things of news and official text, no names.
POSTS: tuple[tuple[str, ...], ...] = tuple(
    tuple(entry.split("|"))
    for entry in (
        "chairman|chairwoman|chairperson|chair|president|chủ tịch|主席|会长",
        "secretary|bí thư|书记",
        "premier|prime minister|thủ tướng|总理",
        "minister|bộ trưởng|部长",
        (
            "director|director-general|giám đốc|cục trưởng|vụ trưởng|viện trưởng|局长|厅长|司长"
            "|主任|处长|院长|总监"
        ),
        "commander|chỉ huy trưởng|tư lệnh|指挥官|指挥长|司令|司令员",
        (
            "head of the delegation|head of delegation|delegation head"
            "|head of the vietnamese delegation|head of the chinese delegation"
            "|trưởng đoàn|团长"
        ),
        "mayor|thị trưởng|市长",
        "governor|tỉnh trưởng|thống đốc|省长",
        "ambassador|đại sứ|大使",
        "consul|consul general|lãnh sự|tổng lãnh sự|领事|总领事",
        "spokesperson|spokesman|spokeswoman|người phát ngôn|发言人",
        "manager|general manager|chief executive|ceo|tổng giám đốc|giám đốc|经理|总经理|总裁",
        "chairman of the board|chủ tịch hội đồng quản trị|董事长",
        (
            "head|chief|leader|trưởng ban|trưởng phòng|người đứng đầu|负责人|领导|团长|主任|局长|站长"
            "|所长"
        ),
    )
)
"""Posts a "who" question asks about, each with its forms in the three languages."""
DEPUTY_MARKS = ("deputy", "vice", "phó", "副")
"""What makes a post the deputy one ("Deputy Secretary", "Phó Bí thư", "副书记")."""

COUNTED: tuple[tuple[str, ...], ...] = tuple(
    tuple(entry.split("|"))
    for entry in (
        (
            "company|companies|enterprise|enterprises|firm|firms|business|businesses"
            "|doanh nghiệp|công ty|hãng|企业|公司|厂商"
        ),
        "cooperative|cooperatives|co-operative|co-operatives|hợp tác xã|合作社",
        (
            "person|persons|people|individual|individuals|inhabitant|inhabitants|resident"
            "|residents|worker|workers|suspect|suspects|member|members|người|cư dân|人员|居民"
            "|人口"
        ),
        (
            "tourist|tourists|visitor|visitors|traveller|travellers|traveler|travelers"
            "|passenger|passengers|du khách|khách|hành khách|游客|旅客|乘客|人次"
        ),
        ("vehicle|vehicles|truck|trucks|lorry|lorries|car|cars|bus|buses|xe|车|车辆|货车|辆|辆次"),
        "case|cases|vụ|vụ án|案件|起",
        "camera|cameras|camera|摄像头|摄像机",
        (
            "official|officials|officer|officers|staff|employee|employees|cán bộ"
            "|nhân viên|công chức|干部|工作人员|员工|职工"
        ),
        "project|projects|dự án|项目",
        "household|households|family|families|hộ|hộ gia đình|户|家庭",
        "flight|flights|chuyến bay|航班",
        "train|trains|trip|trips|journey|journeys|chuyến|chuyến tàu|列车|班列|趟",
        "school|schools|trường|trường học|学校",
        "hospital|hospitals|bệnh viện|医院",
        "bed|beds|giường|giường bệnh|床位|张床",
        "container|containers|container|集装箱|标箱",
        "tonne|tonnes|ton|tons|tấn|吨",
        "kilometre|kilometres|kilometer|kilometers|km|cây số|公里|千米",
        "hectare|hectares|ha|héc-ta|hecta|公顷",
        "hour|hours|giờ|tiếng|小时|个小时",
        "minute|minutes|phút|分钟",
        "meeting|meetings|talk|talks|cuộc họp|cuộc hội đàm|hội đàm|cuộc gặp|会晤|会谈|会议",
        "call|calls|cuộc gọi|通话|电话",
        "letter|letters|công hàm|thư|公函|信函",
        "line|lines|dây chuyền|生产线|分拣线|流水线",
        "gate|gates|border gate|border gates|cửa khẩu|口岸|通道",
    )
)
"""Things a "how many" question counts (and units it measures in), each with its forms
in the three languages: "How many companies" is answered by "14 doanh nghiệp" and by
"9家企业", not by "215.000 lượt khách"."""


def _norm(text: str) -> str:
    """``text`` in NFC, lower case, runs of spaces as one (Vietnamese tone marks kept:
    folded, "tấn" would be found in "Tân")."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def _form_at(text: str, form: str) -> list[int]:
    """Where ``form`` stands in (normalised) ``text`` as a whole word or phrase; Han forms
    anywhere (no spaces between Chinese words)."""
    if has_cjk(form):
        return [m.start() for m in re.finditer(re.escape(form), text)]
    return [m.start() for m in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text)]


def glossary_entries(
    text: str, glossary: tuple[tuple[str, ...], ...]
) -> list[tuple[int, int, str]]:
    """The glossary forms ``text`` holds, as (start, entry index, form), first first (at
    one place the longest form: "chủ tịch hội đồng quản trị" before "chủ tịch")."""
    low = _norm(text)
    found = [
        (start, i, form)
        for i, forms in enumerate(glossary)
        for form in forms
        for start in _form_at(low, _norm(form))
    ]
    return sorted(found, key=lambda t: (t[0], -len(t[2]), t[1]))


def entry_forms(form: str, glossary: tuple[tuple[str, ...], ...]) -> set[str]:
    """Every form of every glossary entry holding ``form`` (its translations)."""
    return {_norm(f) for forms in glossary if form in map(_norm, forms) for f in forms}


def holds_any(text: str, forms: set[str]) -> bool:
    """Whether ``text`` holds one of ``forms`` as a word or phrase (Han: anywhere)."""
    low = _norm(text)
    return any(_form_at(low, f) for f in forms)


def asked_post(question: str) -> tuple[str, bool] | None:
    """The post a "who" question asks about, as (form, deputy), by the glossary
    :data:`POSTS`: "Ai là Phó Trưởng ban …?" -> ("trưởng ban", True), "中方代表团团长是谁？"
    -> ("团长", False); None when it names no known post. The first post named is the
    asked one ("Chủ tịch …, người hội đàm với lãnh đạo …, là ai?" asks for the Chủ tịch)."""
    found = glossary_entries(question, POSTS)
    if not found:
        return None
    start, _, form = found[0]
    return form, _deputy_before(_norm(question), start)


def post_missing(question: str, sentence: str) -> tuple[bool, bool]:
    """For a "who" question naming a post (:func:`asked_post`), in any pair of languages:
    (missing, other_rank): the sentence names the post in none of its forms, or names it
    only at the other rank (deputy for the post itself, or the post itself for a deputy:
    "Deputy Secretary …" for "Bí thư …"). (False, False) when the question names none."""
    asked = asked_post(question)
    if asked is None:
        return False, False
    form, deputy = asked
    forms = entry_forms(form, POSTS)
    low = _norm(sentence)
    places = [s for f in forms for s in _form_at(low, f)]
    if not places:
        return True, False
    ranks = {_deputy_before(low, s) for s in places}
    return False, deputy not in ranks


def _deputy_before(text: str, start: int) -> bool:
    """Whether a deputy mark stands right before ``text[start:]``."""
    words = text[:start].split()
    return (
        bool(words and words[-1].strip("-") in DEPUTY_MARKS)
        or text[max(0, start - 1) : start] == "副"
    )


_HOW_MANY_AT = re.compile(r"\bhow many\b|\bbao nhiêu\b|\bmấy\b|多少|几", re.I)
_COUNTED_SPAN = 5  # words after "how many" (English) that may name the counted thing
_COUNTED_STOP = EN_FUNCTION_WORDS | {
    "did",
    "take",
    "took",
    "get",
    "got",
    "go",
    "went",
    "per",
    "each",
}


def counted_thing(question: str) -> set[str]:
    """The forms, in every language of :data:`COUNTED`, of the thing a "how many"
    question counts: the last glossary word of the noun phrase after "how many" ("How
    many international travel companies has …" -> companies, doanh nghiệp, 企业, …), the
    first within three words after "bao nhiêu", the first before the clause ends after
    多少/几. Empty when the question counts nothing the glossary knows."""
    m = _HOW_MANY_AT.search(question)
    if m is None:
        return set()
    rest = question[m.end() :]
    lang = detect_language(question)
    if lang == "zh":
        rest = re.split(r"[，,。？?！!；;：:]", rest, maxsplit=1)[0]
        found = glossary_entries(rest, COUNTED)  # the head noun ends the phrase
        head = max(found, key=lambda t: (t[0] + len(t[2]), len(t[2])), default=None)
        return entry_forms(head[2], COUNTED) if head else set()
    words = rest.split()
    if lang == "vi":
        found = glossary_entries(" ".join(words[:3]), COUNTED)
        return entry_forms(found[0][2], COUNTED) if found else set()
    phrase = []
    for w in words[:_COUNTED_SPAN]:
        bare = w.strip("?,.;:!'’").lower()
        if bare in _COUNTED_STOP:
            break
        phrase.append(bare)
    found = glossary_entries(" ".join(phrase), COUNTED)
    return entry_forms(found[-1][2], COUNTED) if found else set()
