"""Citation markers: parse them, verify that each cited span supports its sentence,
map them to the smallest supporting span, and renumber.

No offline NLI or cross-encoder model exists here, so support is judged by
embedding similarity between the claim and a candidate span *plus* hard agreement
checks: every number in the claim must appear in the span, and most of its names
must too. A claim with no supporting span is removed, never shown with a marker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.lists import introduces_items
from rag.answer.spans import is_cjk_sentence
from rag.embed.encoder import Embedder
from rag.ingest.chunking import answer_spans
from rag.lang import CJK_END_MARKS
from rag.text import fold, names, sentence_spans, tokenize
from rag.types import Chunk, Citation

MAX_MARKER = 999
_MARKER = re.compile(r"\[\s*(?:(?:source|src|doc)\s*)?(\d{1,6}(?:\s*[,;]\s*\d{1,6})*)\s*\]", re.I)
_MARKER_BEFORE_PUNCT = re.compile(r"([.!?])((?:\s*\[[^\[\]\n]{1,40}\])+)")


@dataclass(frozen=True, slots=True)
class Source:
    """What a marker ``[n]`` given to a generator refers to: a passage or a sentence."""

    n: int
    chunk: Chunk
    score: float = 0.0


@dataclass(slots=True)
class Claim:
    """One sentence of a drafted answer and the markers attached to it."""

    text: str  # without markers
    markers: list[int]


@dataclass
class Verified:
    """The outcome of verification: answer text with renumbered markers and its citations."""

    text: str
    citations: list[Citation]
    kept: int = 0
    removed: list[str] = field(default_factory=list)
    dropped_markers: int = 0
    echoes: list[str] = field(default_factory=list)  # supported, but only repeat a source


def parse_markers(text: str) -> list[int]:
    """All marker numbers in ``text`` in order ("[1][2, 3]" -> [1, 2, 3]); absurd ones dropped."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part)
            if 1 <= n <= MAX_MARKER:
                out.append(n)
    return out


def strip_markers(text: str) -> str:
    """``text`` without citation markers and with tidy spacing."""
    t, previous = text, None
    while t != previous:  # "[[1]2]" -> "[2]" -> "": nested brackets can form new markers
        previous = t
        t = re.sub(r"\[\s*\]", "", _MARKER.sub("", t))
    t = re.sub(r"\s+([.,;:!?])", r"\1", t)
    return re.sub(r"[ \t]{2,}", " ", t).strip()


def split_claims(answer: str) -> list[Claim]:
    """Split a drafted answer into sentences with their markers.

    Markers placed after the full stop ("calls. [1] Next") belong to the sentence
    before them, as writers mean it. A piece opening with a dash goes on the sentence
    before it: a value ending in an abbreviation's full stop ("6.40 a.m. — The first
    ferry leaves at 6.40 a.m. [1]") is no sentence of its own (alone it would have no
    marker and be dropped, leaving "— The first ferry ...").
    """
    moved = _MARKER_BEFORE_PUNCT.sub(lambda m: f"{m.group(2)}{m.group(1)}", answer)
    spans: list[list[int]] = []
    for a, b in sentence_spans(moved):
        if spans and moved[a] in _DASHES:  # "6.40 a.m. — The first ferry ...": one claim
            spans[-1][1] = b
        else:
            spans.append([a, b])
    claims = []
    for a, b in spans:
        piece = moved[a:b]
        text = strip_markers(piece)
        if text and re.search(r"\w", text):
            claims.append(Claim(text, parse_markers(piece)))
    return claims


def candidate_spans(chunk: Chunk, doc_text: str) -> list[tuple[int, int]]:
    """Sentence spans (document offsets) inside a chunk: the units a citation can point to."""
    return answer_spans(doc_text, chunk.start, chunk.end)


def agreement(claim: str, span: str, context: str = "") -> float:
    """How far the claim's facts agree with ``span`` (0..1).

    0.0 when a number disagrees: every number in the claim must be in the span, counting
    the same thing ("10 hotline calls" is not supported by "the first 10 months"). Then
    the share of the claim's names found in the span or, when given, in ``context`` (the
    cited document), so an invented name is never supported.
    """
    if not _numbers_agree(claim, span):
        return 0.0
    claim_names = names(claim)
    if not claim_names:
        return 1.0
    known = set(tokenize(span)) | (set(tokenize(context)) if context else set())
    return len(claim_names & known) / len(claim_names)


def _number_units(text: str) -> dict[str, set[str]]:
    """Each number in ``text`` with the content words right after it (what it counts)."""
    words = tokenize(text, keep_stopwords=True)
    out: dict[str, set[str]] = {}
    for i, w in enumerate(words):
        if not w.isdigit():
            continue
        units: set[str] = set()
        for nxt in words[i + 1 : i + 4]:
            if nxt.isdigit():
                break
            units.update(tokenize(nxt))
        out.setdefault(w, set()).update(units)
    return out


def _numbers_agree(claim: str, span: str) -> bool:
    span_units = _number_units(span)
    for value, units in _number_units(claim).items():
        if value not in span_units:
            return False
        is_year = len(value) == 4 and 1900 <= int(value) <= 2100
        if units and span_units[value] and not is_year and not units & span_units[value]:
            return False
    return True


class SupportChecker:
    """Scores how well a span supports a claim (0..1), with cached span embeddings."""

    def __init__(self, embedder: Embedder, min_support: float) -> None:
        self.embedder = embedder
        self.min_support = min_support

    def scores(self, claim: str, spans: Sequence[str], context: str = "") -> np.ndarray:
        """Support of each span for the claim: similarity gated by agreement of facts.

        With ``context`` (the cited document's text) every name in the claim must occur
        in it; without, half of them must occur in the span.
        """
        if not spans:
            return np.zeros(0, np.float32)
        vecs = self.embedder.encode_many([claim, *spans])
        sims = vecs[1:] @ vecs[0]
        agree = np.array([agreement(claim, s, context) for s in spans], dtype=np.float32)
        lexical = np.array([_overlap(claim, s) for s in spans], dtype=np.float32)
        score = 0.6 * sims + 0.4 * lexical
        required = 1.0 if context else 0.5
        return np.where(agree >= required - 1e-6, score, 0.0).astype(np.float32)

    def supports(self, score: float) -> bool:
        return score >= self.min_support


def _overlap(claim: str, span: str) -> float:
    """Share of the claim's content terms that the span contains."""
    terms = set(tokenize(claim))
    if not terms:
        return 0.0
    return len(terms & set(tokenize(span))) / len(terms)


def verify(
    draft: str,
    sources: Sequence[Source],
    doc_texts: dict[str, str],
    checker: SupportChecker,
    *,
    reattribute: bool = True,
    drop_echoes: bool = False,
) -> Verified:
    """Keep only supported sentences, each cited to its minimal supporting span.

    For every sentence of ``draft``: its markers are checked against the sources they
    name (markers to unknown sources are dropped); the best-supporting sentence inside
    a cited source becomes the citation. A sentence whose cited sources do not
    support it is re-attributed to another source that does (``reattribute``) or
    removed. Markers are renumbered 1..n in order of first use.

    ``drop_echoes`` (generative drafts): a sentence that only repeats a source's title,
    or its lead or one of its sentences in parentheses next to a sentence that answers,
    is not an answer even where the source "supports" it; such sentences go to
    ``Verified.echoes`` (see :func:`echo_kind`).
    """
    by_n = {s.n: s for s in sources}
    result = Verified(text="", citations=[])
    kept: list[tuple[Claim, list[tuple[Source, tuple[int, int], float]], str]] = []
    for claim in split_claims(draft):
        kind = ""
        if drop_echoes:
            claim, lines = _without_title_lines(claim, sources)  # "Title\n(Title)\nSentence"
            result.echoes += lines
            kind = echo_kind(claim.text, sources, doc_texts) if claim.text else "title"
        if kind == "title":  # a title names a topic, it never answers
            result.echoes += [claim.text] if claim.text else []
            continue
        valid = [by_n[m] for m in dict.fromkeys(claim.markers) if m in by_n]
        result.dropped_markers += len(claim.markers) - len(valid)
        support = _best_spans(claim.text, valid, doc_texts, checker)
        if not support and reattribute:
            others = [s for s in sources if s not in valid]
            support = _best_spans(claim.text, others, doc_texts, checker)[:1]
        if not support:
            result.removed.append(claim.text)
            continue
        kept.append((claim, support, kind))
    if any(not kind for _, _, kind in kept):  # a lead or copy next to an answer is padding
        result.echoes += [c.text for c, _, kind in kept if kind]
        kept = [k for k in kept if not k[2]]
    _number(kept, doc_texts, result)
    return result


def _number(
    kept: Sequence[tuple[Claim, list[tuple[Source, tuple[int, int], float]], str]],
    doc_texts: dict[str, str],
    result: Verified,
) -> None:
    """Write the kept sentences into ``result`` with markers renumbered 1..n in order of
    first use, one :class:`Citation` per distinct supporting span."""
    numbering: dict[tuple[str, int, int], int] = {}
    out_sentences: list[str] = []
    for claim, support, _ in kept:
        marks = []
        for src, (a, b), score in support:
            key = (src.chunk.doc_id, a, b)
            if key not in numbering:
                numbering[key] = len(numbering) + 1
                result.citations.append(
                    Citation(
                        n=numbering[key],
                        source=src.chunk.source,
                        doc_title=src.chunk.doc_title,
                        start=a,
                        end=b,
                        quote=doc_texts[src.chunk.doc_id][a:b],
                        score=float(score),
                        chunk_id=src.chunk.chunk_id,
                    )
                )
            marks.append(numbering[key])
        out_sentences.append(_with_markers(claim.text, sorted(set(marks))))
    result.text = " ".join(out_sentences)
    result.kept = len(out_sentences)


# A sentence is an echo of a text when nearly all its terms come from it (ECHO_SHARE) and
# it repeats most of that text's terms (ECHO_COVER): "The talks were held in Lạng Sơn"
# takes its words from a title but is not a copy of it.
ECHO_SHARE = 0.8
ECHO_COVER = 0.6
_PARENTHESISED = re.compile(r"^\s*[(\[][^()\[\]]*[)\]][\s.!?…]*$")
_INNER_PARENS = re.compile(r"\(([^()]{3,300})\)")
_LEADING_PARENS = re.compile(r"^\s*\(([^()]{3,300})\)\s*")


def echo_kind(claim: str, sources: Sequence[Source], doc_texts: dict[str, str]) -> str:
    """How ``claim`` (a drafted sentence, markers stripped) merely repeats a source:
    ``"title"`` (a near-copy of a source's document title), ``"passage"`` (a sentence
    wholly in parentheses that copies one of a source's sentences: the prompt lists
    sources as "[n] (title)", and small models echo that), ``"lead"`` (a near-copy of a
    source document's first sentence), or "" (none of these).

    Titles name a topic and never answer (the extractive backend never quotes one
    either), so :func:`verify` drops title echoes; a lead or a copied sentence can
    answer, so it drops those only next to another kept sentence that is no echo.
    Word overlap only (:data:`ECHO_SHARE`, :data:`ECHO_COVER`), no word of any corpus.
    """
    terms = set(tokenize(claim))
    if not terms:
        return ""
    titles = [set(tokenize(s.chunk.doc_title)) for s in sources]
    if any(_echoes(terms, t) for t in titles):
        return "title"
    for m in _INNER_PARENS.finditer(claim):  # "The ward is at (Title) [1]": a title as value
        inner = set(tokenize(m.group(1)))
        if inner and any(_echoes(inner, t) for t in titles):
            return "title"
    if _PARENTHESISED.match(claim):
        for src in sources:
            text = doc_texts.get(src.chunk.doc_id, "")
            for a, b in candidate_spans(src.chunk, text) if text else ():
                if _echoes(terms, set(tokenize(text[a:b]))):
                    return "passage"
    for src in sources:
        if _echoes(terms, set(tokenize(_lead(doc_texts.get(src.chunk.doc_id, ""))))):
            return "lead"
    return ""


def _without_title_lines(claim: Claim, sources: Sequence[Source]) -> tuple[Claim, list[str]]:
    """``claim`` without the source titles it starts with, on lines of their own or in
    parentheses ("Title\n(Title)\nSentence", "(Title) Sentence"): models copy the
    "[n] (title)" header of a source above what they write. Returns the rest (text ""
    when nothing is left) and the headers taken out."""
    titles = [t for t in (set(tokenize(s.chunk.doc_title)) for s in sources) if t]

    def is_title(text: str) -> bool:
        terms = set(tokenize(text))
        return bool(terms) and any(_echoes(terms, t) for t in titles)

    lines = [line.strip() for line in claim.text.splitlines() if line.strip()]
    out = [ln for ln in lines if len(lines) > 1 and is_title(ln)]
    rest = " ".join(ln for ln in lines if ln not in out)
    while (m := _LEADING_PARENS.match(rest)) and is_title(m.group(1)):
        out.append(m.group(0).strip())
        rest = rest[m.end() :]
    if not out:
        return claim, []
    return Claim(rest, claim.markers if rest else []), out


def _echoes(terms: set[str], text_terms: set[str]) -> bool:
    """Nearly all of ``terms`` are in ``text_terms``, and they repeat most of it."""
    if not text_terms:
        return False
    shared = len(terms & text_terms)
    return shared >= ECHO_SHARE * len(terms) and shared >= ECHO_COVER * len(text_terms)


def _lead(doc_text: str) -> str:
    """A document's first sentence (its lead), within the first 600 characters."""
    spans = sentence_spans(doc_text, 0, min(len(doc_text), 600))
    return doc_text[spans[0][0] : spans[0][1]] if spans else ""


def _best_spans(
    claim: str, sources: Sequence[Source], doc_texts: dict[str, str], checker: SupportChecker
) -> list[tuple[Source, tuple[int, int], float]]:
    """For each source, its best-supporting sentence, if it supports the claim."""
    found = []
    for src in sources:
        text = doc_texts[src.chunk.doc_id]
        spans = candidate_spans(src.chunk, text)
        if not spans:
            continue
        if introduces_items([text[a:b] for a, b in spans]):  # a list quoted whole: one claim
            spans = [*spans, (spans[0][0], spans[-1][1])]
        scores = checker.scores(claim, [text[a:b] for a, b in spans], context=text)
        best = int(np.argmax(scores))
        if checker.supports(float(scores[best])):
            found.append((src, spans[best], float(scores[best])))
    found.sort(key=lambda t: -t[2])
    return found[:2]


def _with_markers(sentence: str, marks: list[int]) -> str:
    """``sentence`` with its citation markers before its end mark: "… calls [1]." and,
    for Chinese (full-width marks, no spaces), "…亿元[1]。"; a sentence without an end
    mark gets one in its own script."""
    tags = "".join(f"[{m}]" for m in marks)
    s = sentence.rstrip()
    if s and s[-1] in CJK_END_MARKS:
        return f"{s[:-1]}{tags}{s[-1]}"
    if ends_with_abbreviation(s):  # "at 6.40 a.m. [1]", not "at 6.40 a.m [1]."
        return f"{s} {tags}"
    if s and s[-1] in ".!?":
        return f"{s[:-1]} {tags}{s[-1]}"
    if s and is_cjk_sentence(s):
        return f"{s}{tags}。"
    return f"{s} {tags}."


_DASHES = "—–"
_DOTTED_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:[A-Za-z]\.){2,}$")


def ends_with_abbreviation(sentence: str) -> bool:
    """Does ``sentence`` end with a dotted abbreviation ("a.m.", "p.m.", "U.S.", "e.g.")?
    Its last full stop belongs to the abbreviation, so a marker goes after it."""
    return bool(_DOTTED_ABBREVIATION.search(sentence.rstrip()))


def fold_contains(haystack: str, needle: str) -> bool:
    """Diacritic- and case-insensitive containment."""
    return fold(needle) in fold(haystack)
