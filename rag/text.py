"""Text utilities shared by chunking, BM25 and answer scoring.

* :func:`sentence_spans` finds sentence boundaries as character offsets.
* :func:`fold` removes diacritics so "Huu Nghi" matches "Hữu Nghị".
* :func:`tokenize` turns text into folded, stop-word-free terms for BM25.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rag.porter import porter_stem

# Abbreviations after which a full stop does not end a sentence.
_ABBREV = {
    "no",
    "nos",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "col",
    "gen",
    "lt",
    "maj",
    "capt",
    "sgt",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "inc",
    "ltd",
    "co",
    "corp",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "fig",
    "vol",
    "p",
}
_BOUNDARY = re.compile(
    r"[.!?…]+[\"”’)\]]*(?=\s)|[。！？]+[”’」』）)\]]*|\n\s*\n|\n(?=\s*[-*#•|])|"
    r"\n(?=[ \t]*\d{1,2}[.)][ \t])"
)  # full-width 。！？ end a sentence with no space after them (Chinese, Japanese); a line
# opening with "|" is a table row: one row, one sentence; a line opening with "5. " or
# "5) " is a numbered list item (its marker's dot ends nothing: _is_abbreviation)
_WORD_BEFORE = re.compile(r"(\S+)$")

ITEM_NUMBER = re.compile(r"\d{1,2}[.)][ \t]+(?=\S)")
"""A numbered list item's marker ("4. ", "2) ") where the match starts, text after it:
the item's place in its list, not a number it states (:mod:`rag.answer.layout` skips it
at a statement's start, :mod:`rag.answer.spans` drops it at each line's start). The
sentence boundary above splits before a looser form (one space or tab, nothing after)."""


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as (start, end) offsets, whitespace trimmed.

    Boundaries: ., !, ? (not after a known abbreviation, an initial or a number
    like "No. 7"), the full-width 。！？ (Chinese: no space follows them), blank lines,
    and list items. The spans cover every non-space
    character of the range exactly once, so joining them loses nothing.
    """
    return list(_sentence_spans(text, start, len(text) if end is None else end))


@lru_cache(maxsize=8192)
def _sentence_spans(text: str, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """:func:`sentence_spans`, cached: the answer chain splits the same retrieved
    passages for many questions (a str caches its hash, so a key costs little)."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _BOUNDARY.finditer(text, start, end):
        cut = m.end()
        if m.group().strip() and (
            _is_abbreviation(text, m.start(), cursor) or _continues(text, m.group(), cut, end)
        ):
            continue
        _append_trimmed(text, cursor, cut, spans)
        cursor = cut
    _append_trimmed(text, cursor, end, spans)
    return tuple(spans)


_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.M)
_TABLE_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*(?::?-{3,}:?[ \t]*)?$", re.M)


@lru_cache(maxsize=16384)
def is_table_row(text: str) -> bool:
    """Is ``text`` one row of a Markdown (pipe) table, its rule row ("|---|---|") aside?
    (Cached: every candidate sentence is asked, for every question.)"""
    t = text.strip()
    return bool(_TABLE_ROW.fullmatch(t)) and not _TABLE_RULE.fullmatch(t) and "\n" not in t


def is_table_header(text: str) -> bool:
    """Is ``text`` a table's header row with its rule row under it (what
    :func:`sentence_spans` gives as one span: the rule is too short to stand alone)?"""
    lines = text.strip().split("\n")
    return (
        len(lines) == 2
        and bool(_TABLE_ROW.fullmatch(lines[0].strip()))
        and bool(_TABLE_RULE.fullmatch(lines[1].strip()))
    )


def heads_a_table(text: str, end: int) -> bool:
    """Does the table row ending at ``end`` have the table's rule row right under it (so it
    is the header, whose cells name the columns, not a row of values)?"""
    nxt = text.find("\n", end)
    line_end = text.find("\n", nxt + 1) if nxt >= 0 else -1
    line = text[nxt + 1 : line_end if line_end >= 0 else len(text)] if nxt >= 0 else ""
    return bool(_TABLE_RULE.fullmatch(line.strip()))


def row_with_header(row: str, header: str) -> str:
    """A table row read as text, each cell followed by its column's name ("Business Tier;
    1,450 euros Price per server per year Business; up to 150 Protected agents
    Business"): a count in a cell then stands next to what it counts, its column's name
    and the row's name (its first cell, when it holds no figure: "3,412 2024/25
    Complaints received"). The row itself when the cells and the column names do not
    pair up."""
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    names = [c.strip() for c in header.split("|")]
    if not header or len(cells) != len(names):
        return row
    label = cells[0] if not any(ch.isdigit() for ch in cells[0]) else ""
    return (
        "; ".join(
            f"{c} {n} {label}" if i and label and any(ch.isdigit() for ch in c) else f"{c} {n}"
            for i, (c, n) in enumerate(zip(cells, names, strict=True))
        )
        + "."
    )


def table_rows(text: str, pos: int) -> list[tuple[int, int]]:
    """The body rows of the pipe table holding the line at ``pos``, as (start, end)
    offsets of each line: the rows run up to the rule line above (it is no row) and down
    to the first line that is not a row. Empty when that line is no table row."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", start)
    if not is_table_row(text[start : len(text) if end < 0 else end]):
        return []
    while start > 0:  # the rows above it
        prev = text.rfind("\n", 0, start - 1) + 1
        if not is_table_row(text[prev : start - 1]):
            break
        start = prev
    rows = []
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if not is_table_row(text[start:end]):
            break
        rows.append((start, end))
        start = end + 1
    return rows


@lru_cache(maxsize=16384)
def table_header(text: str, pos: int) -> str:
    """The header row of the table whose body row starts at ``pos`` ("" when the line is
    not a table row, or its table has no header and rule row above it): its cells name
    what each of the row's cells is ("Department | 2026/27 budget | Change on 2025/26").
    Cached: the candidates, the answerer's typing and the gate's context read it for the
    same rows of every question."""
    line_start = text.rfind("\n", 0, pos) + 1
    while line_start > 0:
        prev_start = text.rfind("\n", 0, line_start - 1) + 1
        line = text[prev_start : line_start - 1]
        if _TABLE_RULE.fullmatch(line.strip()):
            head_start = text.rfind("\n", 0, max(0, prev_start - 1)) + 1
            head = text[head_start : max(head_start, prev_start - 1)].strip()
            return head.strip("| ") if _TABLE_ROW.fullmatch(head) else ""
        if not _TABLE_ROW.fullmatch(line.strip()):
            return ""
        line_start = prev_start
    return ""


def _continues(text: str, mark: str, pos: int, end: int) -> bool:
    """A lowercase word (or, after "…", a number) right after the mark continues the sentence:
    "mechanisms … making 113 calls", "mechanisms … 65 cases"."""
    rest = text[pos : min(end, pos + 4)].lstrip(" \t")
    return bool(rest) and (rest[0].islower() or (mark.startswith("…") and rest[0].isdigit()))


def _is_abbreviation(text: str, dot: int, floor: int) -> bool:
    if text[dot] != ".":
        return False
    m = _WORD_BEFORE.search(text, floor, dot)
    if not m:
        return False
    word = m.group(1).lstrip('("“‘').lower()
    if word in _ABBREV or (len(word) == 1 and word.isalpha()):
        return True
    line_start = text.rfind("\n", 0, m.start(1)) + 1
    if word.isdigit() and len(word) <= 2 and not text[line_start : m.start(1)].strip():
        return True  # "5. Dunmore ...": a numbered list item's marker, not a sentence
    # "the 2025." ends a sentence, but a following lowercase word means it did not.
    nxt = text[dot + 1 : dot + 3].strip()[:1]
    return bool(nxt) and nxt.islower()


def _append_trimmed(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        out.append((a, b))


_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "has",
        "have",
        "had",
        "having",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "their",
        "them",
        "they",
        "he",
        "she",
        "his",
        "her",
        "him",
        "we",
        "our",
        "us",
        "you",
        "your",
        "i",
        "me",
        "my",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "more",
        "most",
        "some",
        "any",
        "all",
        "each",
        "both",
        "either",
        "neither",
        "not",
        "no",
        "nor",
        "so",
        "than",
        "too",
        "very",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "also",
        "just",
        "only",
        "own",
        "same",
        "such",
        "other",
        "out",
        "up",
        "down",
        "off",
        "again",
        "further",
        "then",
        "once",
        "here",
        "s",
        "t",
        "don",
        "did",
        "didn",
        "isn",
        "wasn",
        "aren",
        "weren",
        "per",
        "via",
        "while",
        "during",
        "between",
        "among",
        "through",
        "across",
        "within",
        "without",
        "upon",
        "toward",
        "towards",
    ]
)


STOPWORDS = _STOPWORDS  # the words :func:`tokenize` drops


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lowercase, strip diacritics (đ -> d) and drop thousands separators in numbers."""
    t = text.replace("đ", "d").replace("Đ", "D")
    t = unicodedata.normalize("NFKD", t)
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = re.sub(r"(?<=\d)[,.](?=\d{3}\b)", "", t)
    return t.lower()


_TOKEN = re.compile(r"[a-z0-9]+")
# Han ideographs (CJK unified, extension A, compatibility): Chinese writes no spaces,
# so a run of them is indexed as overlapping character bigrams (a lone one as itself),
# the usual segmentation-free scheme for Chinese BM25 (as in Lucene's CJK analyzer).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TERM = re.compile(rf"[a-z0-9]+|[{_HAN}]+")


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Folded terms of ``text`` for lexical matching ("Hữu Nghị" -> ["huu", "nghi"]);
    Chinese runs become character bigrams ("友谊关" -> ["友谊", "谊关"])."""
    return list(_tokens(text, keep_stopwords))


@lru_cache(maxsize=32768)
def _tokens(text: str, keep_stopwords: bool) -> tuple[str, ...]:
    """:func:`tokenize`, cached: the same sentences are scored for many questions."""
    folded = fold(text)
    if not _HAS_HAN.search(folded):  # the common case: Latin text, one regex pass
        toks = _TOKEN.findall(folded)
        if keep_stopwords:
            return tuple(toks)
        return tuple(stem(t) for t in toks if t not in _STOPWORDS)
    out: list[str] = []
    for tok in _TERM.findall(folded):
        if "a" <= tok[0] <= "z" or tok[0].isdigit():
            if keep_stopwords or tok not in _STOPWORDS:
                out.append(tok if keep_stopwords else stem(tok))
        else:
            out.extend(han_bigrams(tok))
    return tuple(out)


_HAS_HAN = re.compile(rf"[{_HAN}]")


def han_bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a run of Han characters; a single one as itself."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_terms(text: str) -> list[str]:
    """The terms the word indexes (BM25) hold and are searched with: :func:`tokenize`'s
    words, stop words dropped, each reduced to its Porter stem, which also joins a word's
    derived forms ("mediators" and "mediation", "approve" and "approval": a user's
    wording and the document's seldom share the suffix). Han runs as bigrams, numbers
    and words of three letters or fewer as they are."""
    return [_root(t) for t in tokenize(text, keep_stopwords=True) if t not in _STOPWORDS]


def _root(word: str) -> str:
    """The Porter stem of a longer Latin-letter word (:mod:`rag.porter`)."""
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    return porter_stem(word)


def terms(text: str) -> str:
    """:func:`index_terms` joined by spaces: what an external word index (Milvus BM25,
    whose analyzer splits on spaces) is given, so it sees the same terms as bm25s."""
    return " ".join(index_terms(text))


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """A light English stemmer: plural and common verb endings, numbers untouched."""
    if token.isdigit() or len(token) <= 3:
        return token
    for suffix, repl in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", "e"),
        ("s", ""),
    ):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            if suffix == "s" and token.endswith("ss"):
                return token
            return token[: -len(suffix)] + repl
    return token


_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\w)|(?<![\w.])\d+(?:\.\d+)?(?!\w)")


def numbers(text: str) -> list[float]:
    """Numbers written in ``text`` ("1,182" -> 1182.0), in order."""
    out = []
    for m in _NUMBER.finditer(text):
        try:
            out.append(float(m.group().replace(",", "")))
        except ValueError:
            continue
    return out


_CODE_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,300}>")


def strip_markup(text: str) -> str:
    """``text`` without HTML/XML tags and script/style blocks, spaces collapsed.

    Markup pasted into a question ("<b>How many ...</b>", an injection attempt) is not
    what the user asks about: its words must neither steer retrieval nor count as
    question terms the sources fail to cover. Text that merely uses "<" and ">" (such
    as "a < b") is kept.
    """
    return " ".join(_TAG.sub(" ", _CODE_BLOCK.sub(" ", text)).split())


_CAPITALISED = re.compile(r"\b[A-ZÀ-ỸĐ][\w’'\-–]+(?:\s+[A-ZÀ-ỸĐ][\w’'\-–]+)*")


def names(text: str) -> set[str]:
    """Folded words of capitalised words/phrases (proper names, mostly) that are not just
    the first word of a sentence: the words a claim and its source must share."""
    found = set()
    for m in _CAPITALISED.finditer(text):
        if m.start() == 0 or text[max(0, m.start() - 2) : m.start()].strip() in {".", "!", "?"}:
            words = m.group().split()
            if len(words) == 1:
                continue
        for w in tokenize(m.group()):
            found.add(w)
    return found
