"""Layout: which lines of a document are headings, section labels, datelines or fields.

A heading or a label names a topic or files the document; it does not answer. A dateline
("PORT ALDWICK, March 14, 2025 — ") opens an article and is cut off its first sentence. A
"key: value" line with a figure in its value states it ("Fixed versions: 4.2.2 and
4.1.6"). CJK text counts characters as word-equivalents (:func:`rag.lang.word_count`) and
ends statements with the full-width 。！？. Nothing here names a word of one corpus.
"""

from __future__ import annotations

import re

from rag.lang import CJK_END_MARKS, has_cjk, word_count
from rag.text import ITEM_NUMBER, fold, is_table_header, is_table_row

HAN_RANGE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

_HEADING = re.compile(r"^\s*(?:#{1,6}\s|[=*_-]{3,}\s*$)")
_SECTION = re.compile(
    r"^\s*(?:section|chapter|part|article|clause|step|table|figure|appendix|annex|schedule)"
    r"\s+[\w.]+\.?\s*$",
    re.I,
)
_DATELINE = re.compile(  # "PORT ALDWICK, March 14, 2025 — ", "LẠNG SƠN — ", "LONDON (AP) - "
    r"^\s*([^\W\d_][^\n—–,()]{1,40}?)(?:\s*\([^)\n]{1,30}\))?(?:,[^—–\n]{3,40}?)?\s+(?:[—–]{1,2}|-)\s+"
)
_END = re.compile(r"[.!?:;\"”’)]\s*$")
_CJK_END = re.compile(rf"[{CJK_END_MARKS}：；][”’」』）)]*\s*$")  # 。！？ and full-width : ;


FIELD_LINE = re.compile(r"[ \t]*[A-Z0-9](?:(?!\. )[^\n:!?]){0,80}: +\S")
"""A "Key: value" line: a key of up to 80 characters with no sentence end in it ("Of
these, repaired by 1 March 2026: 2,410"), a colon, then its value."""


def is_label(text: str, title: str = "") -> bool:
    """Is ``text`` a heading, a section label or the document's title, not a statement?

    Markdown headings, "Section 3", and short lines without a full stop (under 10 words)
    are labels; so is the document title. In CJK text the full-width 。！？ end a
    statement, CJK characters count as word-equivalents (:func:`rag.lang.word_count`),
    and a sentence ending in 。！？ is a statement even when the reader took it as the
    title (a Chinese article's first line is its first sentence, and the reader's
    "short first line" rule counts characters, not words).
    """
    t = text.strip()
    if not t:
        return True
    if is_table_header(t):
        return True  # its cells name the columns: the context of each row (candidates)
    if is_table_row(t):
        return False  # a row states its cells' values, like a sentence
    if _HEADING.match(t) or _SECTION.match(t):
        return True
    if "\n" not in t and _LIST_ITEM.match(t):
        return False  # "- over £1,500: the Finance Director": an item of a list states it
    cjk = has_cjk(t)
    if cjk and _CJK_END.search(t) and "\n" not in t:
        return False  # a whole CJK sentence: "……达到86万吨，同比增长21%。"
    if title and fold(t).strip(" .") == fold(title).strip(" ."):
        return True
    if cjk:
        return "\n" not in t and not _END.search(t) and word_count(t) < 10
    if "\n" not in t and (end := _field_key_end(t)) and _DIGIT.search(t, end):
        return False  # "Fixed versions: 4.2.2 and 4.1.6": a field states its value
    return "\n" not in t and not _END.search(t) and len(t.split()) < 10


_FIELD = re.compile(r"[A-Z][a-z]+(?: (?:[a-z]+|[A-Z]{2,3})){0,3}: +(?=\S)")
"""A "key: value" line whose key is in sentence case ("Fixed versions: ...", "Advisory
ID: ..."); with a figure in its value it is a field, not a label. A title in title case
or capitals ("County Housing Office: First Annual Report", "PART A: ...") or an item's
heading ("Planning appeal: wind turbine at Crane Hill") is still a label."""
_DIGIT = re.compile(r"\d")
_LIST_ITEM = re.compile(r"[ \t]*[-*•–][ \t]+\S")
"""A bulleted list item: one of the things a list holds, never a heading, however short."""


def is_list_item(text: str, start: int) -> bool:
    """Does a bulleted list item start at ``start`` of ``text``?"""
    return _LIST_ITEM.match(text, start) is not None


def list_lead(text: str, start: int) -> str:
    """The line that introduces the bulleted list whose item starts at ``start`` ("Who
    approves a claim:" over "- over £1,500: the Finance Director"): what every item of
    it is about; "" when ``start`` opens no list item or nothing introduces the list."""
    if not is_list_item(text, start):
        return ""
    line_start = text.rfind("\n", 0, start) + 1
    while line_start > 0:
        prev = text.rfind("\n", 0, line_start - 1) + 1
        line = text[prev : line_start - 1]
        if not line.strip():
            return ""  # a blank line: the list has no lead-in
        if not _LIST_ITEM.match(line):
            return line.strip() if line.rstrip().endswith(":") else ""
        line_start = prev
    return ""


_KEY = re.compile(r"([A-Z][^\n:.!?]{0,79}): +(?=\S)")


def _field_key_end(t: str) -> int:
    """Where the value of a "key: value" line starts (0: not one): a key in sentence case
    as :data:`_FIELD` reads it, or a longer one of up to 80 characters, commas and dates
    allowed, whose words after the first are mostly lower case ("Of these, repaired by
    1 March 2026: 2,410"; not a title in title case, "County Housing Office: ...")."""
    if m := _FIELD.match(t):
        return m.end()
    m = _KEY.match(t)
    if m is None:
        return 0
    rest = [w for w in m.group(1).split()[1:] if w[:1].isalpha()]
    capitals = sum(w[:1].isupper() for w in rest)
    return m.end() if len(rest) >= 2 and capitals * 3 <= len(rest) else 0


def is_heading_line(line: str) -> bool:
    """Is a stripped line a heading above a paragraph (a Markdown heading, or fewer than 8
    words without a full stop)? CJK lines count characters as word-equivalents and end
    with 。！？; other text is judged exactly by ``len(line.split()) < 8``."""
    if line.startswith("#"):
        return True
    if has_cjk(line):
        return not _CJK_END.search(line) and not line.endswith(".") and word_count(line) < 8
    return len(line.split()) < 8 and not line.endswith(".")


def content_span(text: str) -> tuple[int, int, str]:
    """The statement inside a sentence span: (start, end, label words skipped).

    Heading and label lines before it ("Night caps\nA dwelling ...") or after it
    ("... a year.\n\nSection 3.") and a dateline ("PORT ALDWICK, March 14, 2025 — The
    terminal ...") are cut off; their words are returned so they can serve as context.
    """
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, pos + len(line), line))
        pos += len(line) + 1
    body = [
        i
        for i, (_, _, line) in enumerate(lines)
        if line.strip() and (not is_label(line) or _wraps(lines, i))
    ]
    if not body:
        return 0, len(text), ""
    i, j = body[0], body[-1]
    labels = [ln.strip(" #*") for k, (_, _, ln) in enumerate(lines) if k < i and ln.strip()]
    start, end = lines[i][0], lines[j][1]
    while start < end and text[start].isspace():
        start += 1
    m = _DATELINE.match(text, start, end)
    if m and _is_place(m.group(1), text[m.end() : end]) and m.end() < end - 20:
        labels.append(m.group().strip(" —–-"))
        start = m.end()
    marker = ITEM_NUMBER.match(text, start, end)  # "4. Corvan ...": the item, not its place
    if marker and marker.end() < end:
        start = marker.end()
    return start, end, " ".join(labels)


def _wraps(lines: list[tuple[int, int, str]], i: int) -> bool:
    """Does line ``i`` run on into the next one, a sentence wrapped at a line break ("...
    £350 per site per season for\nthe loss of ...")? A heading is never continued in
    lower case."""
    nxt = lines[i + 1][2].lstrip() if i + 1 < len(lines) else ""
    return nxt[:1].islower() and not lines[i][2].rstrip().endswith(":")


_CJK_PLACE = re.compile(f"[{HAN_RANGE}]{{1,12}}")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def _is_place(text: str, rest: str) -> bool:
    """Does a dateline's head name a place? In capitals ("LẠNG SƠN — "), in Han
    characters ("凭祥 — "), or in title case ("Quảng Ninh — ", "Hà Giang — ", "Port
    Aldwick — "): one to four words each starting with a capital letter, and the
    statement after the dash starting with one too, since a sentence that opens with
    a capitalised phrase and a dash goes on in lower case ("Phase Two — the plan"), and
    a second dash in the sentence closes an aside ("The Council — The body that ... —").
    """
    if text.isupper() or _cjk_place(text):
        return True
    words = text.split()
    return (
        0 < len(words) <= 4
        and all(_WORD.fullmatch(w) and w[0].isupper() for w in words)
        and rest[:1].isupper()
        and not _ASIDE.search(rest)
        and not any(w.strip(".").lower() in _RANKS for w in words)
        and not _APPOSITION.match(rest)
    )


_ASIDE = re.compile(r"\s[—–]\s")
_RANK_WORDS = (
    "mr mrs ms dr prof sir dame colonel general major captain lieutenant sergeant senior "
    "president minister governor mayor chairman director ông bà anh chị"
)
_RANKS = frozenset(_RANK_WORDS.split())
"""Honorifics and ranks: a name with one before a dash is a person ("Senior Colonel Zhu
Xingan — Deputy Commander of ..."), not a place."""
_APPOSITION = re.compile(r"(?:[^\W\d_]+\s+){0,3}of\s", re.I)
"""A title in apposition after the dash ("Head of the delegation, ...", "Deputy Commander
of ..."): the dash follows a name, not a dateline's place."""


def _cjk_place(text: str) -> bool:
    """A Chinese dateline's place ("凭祥 — ", "南宁 — "): Han characters only (Chinese has
    no capitals for the upper-case test Latin datelines pass), at most 12 of them."""
    return _CJK_PLACE.fullmatch(text.strip()) is not None
