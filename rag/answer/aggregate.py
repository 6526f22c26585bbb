"""Superlative questions over a table: the row with the largest or smallest value.

"Which department gets the most money in 2026/27?" over a budget table asks for the row
whose budget cell is the largest. No one sentence says so, and a ranker that scores rows
one by one picks the row worded most like the question, whichever value it holds. Here
the question's superlative ("most", "largest", "lowest", "cheapest" ...) picks the
direction, the table's header picks the column (the numeric column whose name shares the
question's words, or the only numeric one), and the whole table is read from the
document, so the extreme row is found even when the retrieved passage holds only part of
the table. The answerer then quotes that row first (:meth:`ExtractiveBackend.draft`).

English superlatives and the shapes of numbers only; nothing here names a word of one
corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.candidates import Candidate, Scored, chunk_sentences
from rag.answer.qtypes import asks_money
from rag.answer.reasons import asks_why
from rag.answer.spans import value_spans
from rag.text import STOPWORDS, is_table_row, row_with_header, table_header, table_rows, tokenize
from rag.types import Chunk

_MOST = (
    r"most|largest|biggest|highest|greatest|maximum|longest|heaviest|fastest|oldest|"
    r"dearest|costliest|widest|deepest|tallest|busiest"
)
_LEAST = r"least|smallest|lowest|fewest|minimum|shortest|lightest|slowest|cheapest|narrowest"
_SUPERLATIVE = re.compile(rf"\b(?:the\s+)?(?:(?P<max>{_MOST})|(?P<min>{_LEAST}))\b", re.I)
_NOT_SUPERLATIVE = re.compile(r"\bat (?:most|least)\b|\bmost of\b|\bmostly\b", re.I)
_ASKS_ROW = re.compile(r"^\W*(?:which|what|who|where)\b", re.I)
"""A row is an answer to a which/what/who/where question (not to "how many")."""

_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:,\d{3})*(?:\.\d+)?")
_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9}
_DOWN = re.compile(r"\b(?:down|minus|fell|fall|lower|less|decrease|cut)\b|^\s*[-−]", re.I)


@dataclass(frozen=True, slots=True)
class Table:
    """A Markdown table of a document: its header cells and its body rows' spans."""

    doc_id: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, int], ...]  # (start, end) of each body row in the document
    start: int
    end: int


def asks_extreme(question: str) -> int:
    """+1 when ``question`` asks for the row with the largest value, -1 the smallest, 0
    neither ("Which department gets the most money?" +1; "at least", "at most" are
    bounds, and a how-many question asks for the value, not a row)."""
    if not _ASKS_ROW.match(question) or asks_why(question):  # "What explains the biggest ...?"
        return 0
    m = _SUPERLATIVE.search(_NOT_SUPERLATIVE.sub(" ", question))
    if m is None:
        return 0
    return 1 if m.group("max") else -1


def cell_value(cell: str) -> float | None:
    """The number a cell states, scaled ("1.92 million euros" -> 1920000.0) and signed
    ("down 4.0 percent" -> -4.0); None without a number. A cell with two numbers (a
    range, "2 to 4") is read by its first."""
    m = _NUMBER.search(cell)
    if m is None:
        return None
    value = float(m.group().replace(",", "").replace("−", "-"))
    after = cell[m.end() : m.end() + 12].strip().lower()
    word = re.match(r"[a-z]+", after)
    if word and word.group() in _SCALE:
        value *= _SCALE[word.group()]
    if value > 0 and _DOWN.search(cell[: m.start()] + " " + cell[m.end() :]):
        value = -value
    return value


_RISE = r"ris(?:e|es|en|ing)|rose|grow(?:s|n|ing)?|grew|increas\w*|go(?:es)? up|went up|gain\w*"
_FALL = r"fall(?:s|en|ing)?|fell|drop\w*|declin\w*|decreas\w*|go(?:es)? down|went down|shr[iu]nk\w*"
_CHANGE_ASKED = re.compile(rf"\b(?:{_RISE}|{_FALL}|chang\w*)\b", re.I)
_FALL_ASKED = re.compile(rf"\b(?:{_FALL})\b", re.I)
_CHANGE_HEAD = re.compile(r"\b(?:change|increase|decrease|growth|rise|fall|difference)\b", re.I)
_CHANGE_CELL = re.compile(r"^\s*(?:up|down|[+−-]\s*\d)", re.I)


def _change_column(table: Table, col: int, text: str) -> bool:
    """Does the column give changes: named so ("Change on 2025/26") or its cells signed
    ("up 2.1 percent", "-4%")?"""
    if _CHANGE_HEAD.search(table.header[col]):
        return True
    cells = [_cells(text[a:b]) for a, b in table.rows]
    return all(len(c) == len(table.header) and _CHANGE_CELL.match(c[col]) for c in cells)


_MONEY_WORDS = re.compile(
    r"\b(?:money|spend\w*|spent|cost\w*|pric\w*|paid|pay\w*|budget\w*|fund\w*|cheap\w*|dear\w*|expensive)\b",
    re.I,
)
"""Words that rank amounts of money ("spends the most money", "the dearest")."""


def _money_column(table: Table, col: int, text: str) -> bool:
    """Do the column's cells state amounts of money (as the answerer's span typing reads
    them: "1.92 million euros", "€27.00")?"""
    cells = [_cells(text[a:b]) for a, b in table.rows]
    return all(
        len(c) == len(table.header) and any(v.kind == "money" for v in value_spans(c[col]))
        for c in cells
    )


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def table_at(text: str, doc_id: str, pos: int) -> Table | None:
    """The table whose body row starts at ``pos`` of ``text``, read whole: its header
    and every body row between the rule line and the first line that is not a row."""
    head = table_header(text, pos)
    if not head:
        return None
    rows = table_rows(text, pos)
    if not rows:
        return None
    return Table(doc_id, tuple(_cells(head)), tuple(rows), rows[0][0], rows[-1][1])


def value_column(question: str, table: Table, text: str) -> int | None:
    """The numeric column the superlative ranks on: of the columns after the first (the
    rows' names) whose cells nearly all state a number, the one whose name shares most of
    the question's words; the only one when none shares any. None when it is unclear."""
    qterms = set(tokenize(question))
    numeric = []
    for col in range(1, len(table.header)):
        cells = [_cells(text[a:b]) for a, b in table.rows]
        values = [cell_value(c[col]) for c in cells if len(c) == len(table.header)]
        if len(values) >= 2 and sum(v is not None for v in values) >= 0.8 * len(table.rows):
            numeric.append((len(qterms & set(tokenize(table.header[col]))), col))
    if not numeric:
        return None
    if _CHANGE_ASKED.search(question):  # "rises the most": the column of changes
        changes = [col for _, col in numeric if _change_column(table, col, text)]
        return changes[0] if len(changes) == 1 else None
    numeric.sort(reverse=True)
    if len(numeric) == 1 or numeric[0][0] > numeric[1][0]:
        return numeric[0][1]  # the only one, or the column named like the question
    money = [col for _, col in numeric if _money_column(table, col, text)]
    if (asks_money(question) or _MONEY_WORDS.search(question)) and len(money) == 1:
        return money[0]  # "the most money": the one column of amounts
    return None


def extreme_row(question: str, table: Table, text: str) -> tuple[int, int] | None:
    """The span of the table's row holding the largest (or smallest) value in the column
    :func:`value_column` picks, as :func:`asks_extreme` asks; None on a tie or no column."""
    sign = asks_extreme(question)
    if sign and _FALL_ASKED.search(question):
        sign = -sign  # "fell the most": the most negative change
    col = value_column(question, table, text) if sign else None
    if col is None:
        return None
    scored = []
    for a, b in table.rows:
        cells = _cells(text[a:b])
        value = cell_value(cells[col]) if len(cells) == len(table.header) else None
        if value is not None:
            scored.append((sign * value, (a, b)))
    scored.sort(reverse=True)
    if len(scored) < 2 or scored[0][0] == scored[1][0]:
        return None
    return scored[0][1]


def _relevant(question: str, table: Table) -> bool:
    """Does the table hold what the question ranks: a question word in its header ("Which
    department ..." over "Department | 2026/27 budget | ...")?"""
    return bool(set(tokenize(question)) & set(tokenize(" ".join(table.header))))


def with_extreme_row(
    question: str, cands: Sequence[Candidate], doc_texts: dict[str, str]
) -> tuple[list[Candidate], Candidate | None]:
    """The candidates, with the rows of a table they quote part of when the question asks
    for its largest or smallest value, and the candidate of the extreme row (None when the
    question asks for no extreme, or no retrieved table answers it). The first table
    among the candidates (best retrieved first) whose header shares a question word is
    read; its rows that were not retrieved are added as candidates, with that row's
    chunk's rank."""
    out = list(cands)
    if not asks_extreme(question):
        return out, None
    for cand in cands:
        c = cand.chunk
        text = doc_texts.get(c.doc_id, "")
        if not is_table_row(c.text) or not text:
            continue
        table = table_at(text, c.doc_id, c.start)
        if table is None or not _relevant(question, table):
            continue
        span = extreme_row(question, table, text)
        if span is None:
            return out, None
        have = {(x.chunk.doc_id, x.chunk.start): x for x in out}
        for _, sentence, context in chunk_sentences(
            text, c.doc_id, c.source, c.doc_title, table.start, table.end
        ):
            if sentence is not None and (c.doc_id, sentence.start) not in have:
                head = table_header(text, sentence.start)
                new = Candidate(sentence, cand.rank, context, row_with_header(sentence.text, head))
                out.append(new)
                have[(c.doc_id, sentence.start)] = new
        return out, have.get((c.doc_id, span[0]))
    return out, None


def promoted(scored: list[Scored], top: Candidate | None) -> list[Scored]:
    """``scored`` with the extreme row's candidate first (unchanged without one)."""
    if top is None:
        return scored
    key = (top.chunk.doc_id, top.chunk.start)
    first = [s for s in scored if (s.chunk.doc_id, s.chunk.start) == key]
    return first + [s for s in scored if (s.chunk.doc_id, s.chunk.start) != key]


def without_superlative(question: str, chunk: Chunk, text: str) -> str:
    """The question the abstention gate judges ``chunk`` against: when the chunk is the
    table row that :func:`extreme_row` computed for it, the question without its
    superlative ("Which department gets money in 2026/27?"): the row cannot word "the
    most", the computation answered it; whether the row is about the rest is the gate's
    to judge. The question itself for any other chunk."""
    if not asks_extreme(question) or not is_table_row(chunk.text):
        return question
    table = table_at(text, chunk.doc_id, chunk.start)
    if table is None or extreme_row(question, table, text) != (chunk.start, chunk.end):
        return question
    m = _SUPERLATIVE.search(question)
    assert m is not None  # asks_extreme found one
    rest = question[m.end() :]
    measured = re.match(r"\s+([A-Za-z][\w-]*)", rest)  # "the most money": what is ranked
    if measured and measured.group(1).lower() not in STOPWORDS:
        rest = rest[measured.end() :]
    out = f"{question[: m.start()].rstrip()} {rest.lstrip()}"
    return re.sub(r"\s+(?=[?.!,])", "", out).strip()


def with_row_lead(text: str, row: Candidate | None) -> str:
    """A drafted answer that quotes the extreme row first, led by the row's name (its
    first cell: "Highways and Transport — | Highways and Transport | 1.92 million euros |
    ... [1]"), as a factoid states its value first. Unchanged otherwise."""
    if row is None or not text.startswith(row.chunk.text.strip()[:40]):
        return text
    name = _cells(row.chunk.text)[0]
    return f"{name} — {text}" if name else text
