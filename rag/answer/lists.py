"""A sentence that announces a list, and the sentences that give it.

"What are the HX-40's operating modes?" is best matched by "The HX-40 has four operating
modes." — a sentence that counts the asked things without naming them; the names follow
in the next sentences ("In Auto mode ... Heating mode ... Hot water mode ... Standby
mode ..."). Quoted alone, it answers nothing. English announces a list the same way in
any document: a count before a plural noun the question asks about, in a short sentence
that does not go on to name them (or ends in a colon). The answer then quotes the
announcing sentence with the ones after it, as one passage of the same paragraph.

Nothing here names a word of one corpus: numbers, plural nouns and the question's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache

from rag.answer.spans import WORD_NUMBERS
from rag.ingest.chunking import answer_spans
from rag.text import STOPWORDS, fold, tokenize
from rag.types import Chunk

MAX_WORDS = 14  # an announcing sentence is short: "The work comes in two phases."
MAX_FOLLOWING = 4  # sentences quoted after it at most
MAX_CHARS = 700  # the whole quoted passage at most

_COUNT = re.compile(
    r"\b(\d[\d,]*|" + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True)) + r")\s+"
    r"((?:[\w-]+\s+){0,2}?[A-Za-z-]+s)\b",
    re.I,
)


def announced_count(sentence: str, question: str) -> int:
    """How many things the sentence announces that the question asks about, without
    naming them (0 when it does not announce a list): "The HX-40 has four operating
    modes." for "What are the operating modes?" -> 4; a sentence that names them after
    the noun ("three members: a councillor, ...") announces nothing to add, unless a
    colon ends it."""
    if len(sentence.split()) > MAX_WORDS:
        return 0
    asked = set(tokenize(question))
    for m in _COUNT.finditer(sentence):
        noun = m.group(2).split()[-1]
        if fold(noun) in STOPWORDS or not set(tokenize(noun)) & asked:
            continue
        rest = sentence[m.end() :].strip()
        if rest and rest not in {".", ":"} and not rest.endswith(":"):
            continue  # the sentence goes on (names them, or says something else)
        raw = m.group(1).replace(",", "").lower()
        n = int(raw) if raw.isdigit() else WORD_NUMBERS.get(raw, 0)
        if n >= 2:
            return n
    return 0


_ASKS_PLURAL = re.compile(
    r"^\W*(?:and\s+)?(?:what|which)\s+(?:(?:kinds?|sorts?|types?)\s+of\s+)?"
    r"(?:([a-z-]+)\s+)?([a-z-]{3,}s)\b"
    r"(?!\s+(?:the|a|an|its|their|his|her|this|that|these|those|most|more|any|every|each)\b)",
    re.I,
)
"""*what*/*which*, maybe one word, then a word in -s: a plural noun unless an object
follows it ("Which department gets the most money?": a verb)."""
_NOT_PLURAL = frozenset(  # words in -s that name no things (verbs, pronouns, auxiliaries)
    {"happens", "remains", "causes", "explains", "makes", "means", "needs", "goes", "comes"}
    | {"counts", "matters", "stops", "starts", "opens", "closes", "runs", "takes", "gets"}
    | {"does", "has", "is", "was", "this", "its", "his", "as", "us", "yes", "applies"}
)
_ASKS_PARTS = re.compile(
    r"\b(?:includes?|including|included|consists?\s+of|comprises?|contains?|"
    r"comes?\s+(?:in|with)|made\s+up\s+of)\b",
    re.I,
)


@lru_cache(maxsize=1024)
def asks_for_list(question: str) -> bool:
    """Does the question ask for several things? A plural noun right after *what* or
    *which* ("What facilities does the terminal have?", "Which firms bid?", "What
    classes of licence are there?"), or a verb of parts ("What does phase 2 include?",
    "what comes in the box?"). A "how many" question asks for a count, not a list."""
    m = _ASKS_PLURAL.match(question)
    if m and not (
        fold(m.group(2)) in _NOT_PLURAL
        or m.group(2).lower().endswith(("ss", "us", "is"))
        or (m.group(1) and fold(m.group(1)) in _NOT_PLURAL)
    ):
        return True
    return bool(re.match(r"^\W*(?:and\s+)?(?:what|which)\b", question, re.I)) and bool(
        _ASKS_PARTS.search(question)
    )


_ITEM_SEP = re.compile(r",\s+(?:and\s+|or\s+)?|;\s+(?:and\s+)?|\s+(?:and|or)\s+")


_TWO_NAMES = re.compile(r"\b[A-Z][\w'&.-]*\s+(?:and|or|&)\s+[A-Z][\w'&.-]*")


def enumerated(sentence: str) -> int:
    """How many items the sentence enumerates in one run ("a waiting hall, a ticket
    office, a café and a covered walkway" -> 4; 0 when none): pieces split on commas,
    semicolons and *and*/*or*, counted from the first comma-separated run of short
    pieces (at most 12 words each), so a plain clause with one *and* counts nothing; two
    names joined by *and* are a list of two ("Councillors Rourke and Sandys")."""
    pieces = [p for p in _ITEM_SEP.split(sentence) if p.strip()]
    best = run = 0
    if re.search(r"[,;]\s", sentence) and len(pieces) >= 3:
        for p in pieces:
            run = run + 1 if len(p.split()) <= 12 else 0
            best = max(best, run)
    if best >= 3:
        return best
    return 2 if _TWO_NAMES.search(sentence) else 0


def with_following(doc_text: str, sentence: Chunk, count: int) -> Chunk:
    """The sentence with the ``count`` sentences after it in the same paragraph (one
    sentence per item), or with the one after it when more are counted than
    :data:`MAX_FOLLOWING` ("534 complaints": the next sentence breaks them down), as one
    quotable span (offsets into the document); the sentence itself when none follows."""
    para_end = doc_text.find("\n\n", sentence.end)
    para_end = len(doc_text) if para_end < 0 else para_end
    end = sentence.end
    take = count if count <= MAX_FOLLOWING else 1
    for _, b in answer_spans(doc_text, sentence.end, para_end)[:take]:
        if b - sentence.start > MAX_CHARS:
            break
        end = b
    if end == sentence.end:
        return sentence
    return replace(sentence, end=end, text=doc_text[sentence.start : end])


# a whole item line, bulleted or numbered (rag.text.ITEM_NUMBER: a numbered marker alone)
_ITEM_LINE = re.compile(r"[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+\S")
MAX_ITEMS = 8  # list items quoted after an introducing sentence at most
MAX_LIST_CHARS = 900  # the longest introducing sentence with its items, quoted as one span


def with_items(doc_text: str, sentence: Chunk) -> Chunk:
    """The sentence with the list items after it when it ends in a colon ("We do not pay
    compensation for delays caused by:" then "- a national weather warning; ..."), one
    blank line allowed between them: quoted alone, it names no item. One quotable span;
    the sentence itself when no item follows."""
    if not sentence.text.rstrip().endswith(":"):
        return sentence
    pos, end, items, blank = sentence.end, sentence.end, 0, 0
    while pos < len(doc_text) and items < MAX_ITEMS:
        line_end = doc_text.find("\n", pos + 1)
        line_end = len(doc_text) if line_end < 0 else line_end
        line = doc_text[pos:line_end].strip("\n")
        if not line.strip():
            blank += 1
            if blank > 1 or items:
                break
        elif _ITEM_LINE.match(line) and line_end - sentence.start <= MAX_LIST_CHARS:
            items += 1
            end = line_end
        else:
            break
        pos = line_end
    if not items:
        return sentence
    return replace(sentence, end=end, text=doc_text[sentence.start : end])


def cite_each(passage: str, n: int, cite: Callable[[str, int], str]) -> str:
    """``passage`` with marker ``n`` on each of its sentences (``cite`` puts one on one):
    an announcing sentence quoted with its list is several claims, each one checked
    against the quote; a single sentence gets its one marker."""
    spans = answer_spans(passage)
    if len(spans) < 2:
        return cite(passage, n)
    pieces = [passage[a:b] for a, b in spans]
    if introduces_items(pieces):
        # an introducing sentence and its items: one claim, the items joined
        return cite(f"{pieces[0].rstrip()} {'; '.join(_item_text(p) for p in pieces[1:])}", n)
    return " ".join(cite(p, n) for p in pieces)


# a bulleted or numbered marker, newlines too around it (rag.text.ITEM_NUMBER: numbered)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")


def introduces_items(pieces: Sequence[str]) -> bool:
    """Are these sentences an introducing one ("Mandatory training:") and its list items?"""
    return (
        len(pieces) >= 2
        and pieces[0].rstrip().endswith(":")
        and all(_BULLET.match(p) for p in pieces[1:])
    )


def _item_text(piece: str) -> str:
    """A list item as a claim: its bullet and its trailing separator dropped ("- strike
    action by staff of another organisation;" -> "strike action by ... organisation")."""
    return _BULLET.sub("", piece).rstrip(" ;,")
