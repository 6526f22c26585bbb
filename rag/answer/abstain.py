"""Should the extractive answer be given, or should the assistant abstain?

One small logistic-regression model decides, over a handful of interpretable features
of the best sentence: does it (or its immediate context: the sentences around it and
its section heading) hold what the question asks about, weighted by how rare each term
is in the corpus; does it hold the names, codes and numbers the question pins its answer
to; does it hold the asked-for kind of value; how close is it in meaning. The weights
live in ``abstain_model.json`` next to this module and are refitted from the dev split
of the evaluation suite by ``scripts/fit_abstention.py``; no threshold is set by hand
per rule. ``Config.min_answer_score`` is the probability needed to answer. The checks
that compare the question with the sentence alone are in :mod:`rag.answer.abstain_checks`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.abstain_checks import (
    asked_numbers,
    calendar_rival,
    holds_money,
    letter_words,
    modifier_missing,
    name_rival,
    names_missing_idf,
    partitive_missing,
    plain_numbers,
    role_missing,
    spelled_out,
)
from rag.answer.bounds import bounded_numbers, labelled_numbers
from rag.answer.cjk import across_languages
from rag.answer.extractive import count_focus, question_type
from rag.answer.layout import content_span, is_heading_line, is_list_item, list_lead
from rag.answer.neighbours import ANAPHOR
from rag.answer.noun_phrases import dropped_modifiers, modifier_rivals
from rag.answer.qtypes import asks_money
from rag.answer.qualifiers import (
    focus_conflict,
    number_of,
    pick_value,
    question_qualifiers,
    rival_bound,
    shape,
)
from rag.answer.roles import reversed_roles
from rag.answer.slots import (
    reversed_comparison,
    reversed_direction,
    rival_filler,
    rival_version,
)
from rag.answer.spans import (
    ANSWER_KINDS,
    asked_names,
    qualifier_mismatch,
    stated_numbers,
)
from rag.answer.yesno import is_yes_no
from rag.ingest.chunking import answer_spans
from rag.text import STOPWORDS, is_table_row, table_header, tokenize
from rag.types import Document, Hit

MODEL_PATH = Path(__file__).with_name("abstain_model.json")
FEATURES = (
    "semantic",  # embedding similarity of the sentence (or its best clause) to the question
    "lexical",  # share of the question's terms in the sentence, weighted over the candidates
    "typed",  # 1 when it holds the asked-for kind of value, 0.5 open question, 0 none
    "strict_untyped",  # a how-many/how-much/when question, and no such value in the sentence
    "unfocused",  # ... a number, but not next to the counted thing ("how many tourists")
    "cover",  # corpus-IDF-weighted share of the question's terms in sentence + context
    "cover_sentence",  # the same, in the sentence and its heading/title alone
    "missing_rare",  # the rarest question term absent from sentence + context (IDF, 0..1)
    "missing_known",  # the rarest term missing from sentence + heading that the corpus uses
    "missing_unknown",  # IDF share of question terms the corpus never uses (a paraphrase?)
    "names_missing",  # share of the question's names/codes absent from sentence + heading
    "names_missing_doc",  # ... absent from the whole document
    "numbers_missing",  # a number the question states is absent from sentence + heading
    "numbers_missing_doc",  # ... absent from the whole document
    "modifier_missing",  # the asked noun is there without the question's modifier (IDF):
    # "deputy head" asked, "its head" found; "Class B" asked, "Class C" found
    "dense_max",  # best dense similarity of any retrieved passage
    "qualifier_missing_near",  # rarest qualifier (name, code, year, ordinal, number) of the
    # question absent from sentence + context (IDF; numbers at least 0.5)
    "names_missing_idf",  # IDF-weighted share of the question's names absent from sentence
    "rival_qualifier",  # another year / ordinal / series member stands where the asked one
    # should ("Class C" for "Class B"), or the answer value sits next to it ("17th ... in X")
    "focus_conflict",  # the counted thing under another name ("Vietnamese visitors")
    "rank_mismatch",  # a title asked at one rank, named at another ("Deputy Secretary" for
    # "Party Secretary"): :func:`rag.answer.spans.qualifier_mismatch`
    "modifier_rival",  # the asked noun under another modifier ("roads department" for
    # "education department"), in the sentence or the sentences around it (IDF)
    "modifier_dropped",  # a noun phrase's first modifier absent, the rest of it in the
    # sentence ("the chief nurse" for "the deputy chief nurse"; IDF)
    "role_missing",  # "who is the X?": IDF share of the post's terms absent from sentence +
    # context ("Who is her deputy?" answered by "The unit is led by ...")
    "calendar_rival",  # a weekday or month asked, absent, and another one named instead
    # ("on Fridays and Saturdays" for "on Sundays")
    "money_absent",  # a question about a price, cost, fee or payment, and no money named
    "partitive_missing",  # "how many of the X were Y": Y absent from sentence + context (IDF)
    "direction_reversed",  # "from A into B" asked, "from B into A" stated
    # (:func:`rag.answer.slots.reversed_direction`)
    "filler_rival",  # "the warranty on the fan motor" asked, "the warranty on the
    # compressor" stated (:func:`rag.answer.slots.rival_filler`)
    "place_absent",  # a where-question, and no place phrase in the sentence
    "name_rival",  # a name the question asks about missing, another name standing in the
    # sentence ("Port Aldwick" where "Kessock Harbour" is asked; not for who-questions)
    "comparison_reversed",  # "more memory" asked, "less memory" stated; not for yes/no
    # questions, whose answer it is ("No") (:func:`rag.answer.slots.reversed_comparison`)
    "version_rival",  # "version 4.2" asked, only "Version 4.0" in the sentence
    # (:func:`rag.answer.slots.rival_version`)
    "roles_reversed",  # the money goes the other way: "How much did the farmers pay the
    # station?" over "Farmers receive £350" (:func:`rag.answer.roles.reversed_roles`)
)


_FOR_ANSWERING = frozenset({"semantic", "lexical", "typed", "cover", "cover_sentence", "dense_max"})
SIGNS = tuple(1 if f in _FOR_ANSWERING else -1 for f in FEATURES)
"""The direction each feature may push the probability: more coverage never counts
against an answer, a missing name never counts for it. A fitted weight of the other sign
(collinear features) is set to 0 and the rest refitted, so every weight reads as evidence."""


@dataclass(frozen=True, slots=True)
class Model:
    """Standardised logistic regression: p = sigmoid(w · (x - mean) / std + b)."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    def probability(self, x: Sequence[float]) -> float:
        """The probability that answering is right."""
        z = float(((np.asarray(x) - self.mean) / self.std) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "mean": self.mean.round(6).tolist(),
            "std": self.std.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(self.bias, 6),
        }


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> Model:
    """The fitted model; its feature list must match :data:`FEATURES`."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tuple(raw["features"]) != FEATURES:
        raise ValueError(f"{path}: features {raw['features']} do not match {FEATURES}")
    return Model(
        np.asarray(raw["mean"], float),
        np.asarray(raw["std"], float),
        np.asarray(raw["weights"], float),
        float(raw["bias"]),
    )


def fit(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    steps: int = 3000,
    sample_weight: np.ndarray | None = None,
    use: np.ndarray | None = None,
) -> Model:
    """Fit the logistic regression with numpy (gradient descent, L2 on the weights,
    classes balanced); a feature whose weight comes out against its :data:`SIGNS` is
    dropped (weight 0) and the rest refitted. ``sample_weight`` weighs each row (mean 1:
    e.g. :func:`domain_weights`, so a big domain does not outvote the small ones);
    ``use`` (a mask over :data:`FEATURES`) leaves the features outside it at weight 0."""
    mean = x.mean(axis=0)
    std = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    w, b = _signed_fit(
        (x - mean) / std, y, np.asarray(SIGNS, float), l2, steps, weight=sample_weight, use=use
    )
    return Model(mean, std, w, b)


def domain_weights(groups: np.ndarray) -> np.ndarray:
    """Row weights (mean 1) that give every domain (``groups``) the same total weight."""
    names, which, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = (len(groups) / len(names)) / counts[which]
    return w / w.mean()


def fit_added(
    x: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    signs: np.ndarray,
    l2: float = 1.0,
    steps: int = 3000,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and scales (std) of new features ``x`` (their :data:`SIGNS` ``signs``)
    added to a fitted model whose logit on each row is ``offset``: the loss and sign rule
    of :func:`fit`, the bias left as it is, each feature centred at 0 (not at its mean) so
    a row it does not fire on keeps its probability exactly."""
    std = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    w, _ = _signed_fit(x / std, y, signs, l2, steps, offset=offset, fit_bias=False)
    return w, std


def _signed_fit(
    z: np.ndarray,
    y: np.ndarray,
    signs: np.ndarray,
    l2: float,
    steps: int,
    *,
    offset: np.ndarray | float = 0.0,
    fit_bias: bool = True,
    weight: np.ndarray | None = None,
    use: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """:func:`_gradient_descent`, then again without every feature whose weight came
    out against its sign, until none does (those weigh 0); only the features in ``use``."""
    use = np.ones(z.shape[1], bool) if use is None else np.asarray(use, bool).copy()
    while True:
        w, b = _gradient_descent(z * use, y, l2, steps, offset, fit_bias, weight)
        wrong = use & (w * signs < 0)
        if not wrong.any():
            return w * use, b
        use &= ~wrong


def _gradient_descent(
    z: np.ndarray,
    y: np.ndarray,
    l2: float,
    steps: int,
    offset: np.ndarray | float = 0.0,
    fit_bias: bool = True,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising the class-balanced log loss plus L2: an unanswered
    unanswerable counts as much as an answered answerable one. ``offset`` is a fixed
    part of each row's logit; without ``fit_bias`` the bias stays 0; ``weight`` weighs
    each row (classes are balanced over the weighted rows)."""
    w, b = np.zeros(z.shape[1]), 0.0
    n = len(y)
    r = np.ones(n) if weight is None else np.asarray(weight, float)
    pos = float(np.sum(r * y) / np.sum(r))
    cw = r * np.where(y == 1, 0.5 / max(pos, 1e-9), 0.5 / max(1 - pos, 1e-9))
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b + offset)))
        g = cw * (p - y)
        w -= 0.5 * ((z.T @ g) / n + l2 * w / n)
        if fit_bias:
            b -= 0.5 * float(np.mean(g))
    return w, b


class CorpusStats:
    """Paragraph document frequencies of terms, for IDF weights over the whole corpus."""

    def __init__(self, docs: Sequence[Document]) -> None:
        self.df: dict[str, int] = {}
        n = 0
        for d in docs:
            for para in d.text.split("\n\n"):
                if para.strip():
                    n += 1
                    for t in set(tokenize(para)):
                        self.df[t] = self.df.get(t, 0) + 1
        self.n = max(n, 1)

    def idf(self, term: str) -> float:
        """Normalised IDF in 0..1: 1 for a term in no paragraph, ~0 for one in all."""
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5)) / math.log(2 * self.n + 2)


@lru_cache(maxsize=64)
def _doc_terms(doc_text: str) -> frozenset[str]:
    """A document's terms (cached: the same documents answer many questions)."""
    return frozenset(tokenize(doc_text))


@lru_cache(maxsize=64)
def _doc_numbers(doc_text: str) -> frozenset[str]:
    """A document's numbers, as :func:`rag.answer.spans.stated_numbers` writes them (cached)."""
    return frozenset(stated_numbers(doc_text))


def context_terms(text: str, start: int, end: int, title: str = "") -> tuple[set[str], set[str]]:
    """Terms of a sentence's immediate context: (the sentences before and after it in the
    same paragraph, the document title and the heading or dateline it sits under)."""
    near, labels = context_texts(text, start, end, title)
    return set(tokenize(near)), set(tokenize(labels))


@lru_cache(maxsize=1024)
def context_texts(text: str, start: int, end: int, title: str = "") -> tuple[str, str]:
    """The text of a sentence's immediate context: (the sentences before and after it in
    the same paragraph, its heading or dateline and the document title)."""
    para_a = text.rfind("\n\n", 0, start)
    para_a = 0 if para_a < 0 else para_a
    para_b = text.find("\n\n", end)
    para_b = len(text) if para_b < 0 else para_b
    near: list[str] = []
    if is_list_item(text, start):  # its siblings are other facts; its lead-in frames it
        near.append(list_lead(text, start))
        spans = []
    else:
        spans = answer_spans(text, max(para_a, start - 600), min(para_b, end + 600))
    for i, (a, b) in enumerate(spans):
        if a <= start < b or (a >= start and b <= end):
            for j in (i - 1, i + 1):
                if 0 <= j < len(spans) and spans[j] != (a, b):
                    near.append(text[spans[j][0] : spans[j][1]])
    labels = [_heading_before(text, para_a), title, content_span(text[start:end])[2]]
    if is_table_row(text[start:end]):
        labels.append(table_header(text, start))  # the column names of a row's cells
    return "\n".join(near), "\n".join(labels)


def _heading_before(text: str, pos: int) -> str:
    """The short line (a heading) that opens the paragraph at ``pos`` or the one before."""
    seg = text[max(0, pos - 300) : pos + 200].strip("\n")
    for line in seg.split("\n")[::-1]:
        s = line.strip()
        if s and is_heading_line(s):  # CJK lines: characters as word-equivalents
            return s
    return ""


def features(
    question: str,
    sentence: str,
    context: tuple[set[str], set[str]],
    doc_text: str,
    scores: tuple[float, float, float],
    strict_untyped: bool | float,
    hits: Sequence[Hit],
    stats: CorpusStats,
) -> list[float]:
    """The feature vector of :data:`FEATURES` for one candidate answer sentence.

    ``strict_untyped`` is 1 when a value question's sentence holds no value of the asked
    kind, between 0 and 1 when it holds one away from the counted thing, else 0."""
    semantic, lexical, typed = scores
    if strict_untyped and question_type(question) == "date" and _RELATIVE_TIME.search(sentence):
        strict_untyped = 0.0  # "by year-end", "next spring": a time, if not a dated one
    neighbours, labels = context
    qterms = set(tokenize(question))
    sent = set(tokenize(sentence))
    own = sent | labels | spelled_out(question, sentence)  # "QA": "quality assurance"
    if ANAPHOR.search(sentence):  # "this cut processor load": what "this" is, is next to it
        own |= neighbours
    near = own | neighbours
    weights = {t: stats.idf(t) for t in sorted(qterms)}  # sums alike in every process
    total = sum(weights.values()) or 1.0
    missing = [t for t in weights if t not in near]
    known = [weights[t] for t in qterms if t not in own and stats.df.get(t)]
    names = asked_names(question)
    doc_terms = _doc_terms(doc_text) if names else frozenset()
    nums = asked_numbers(question)
    own_nums = stated_numbers(sentence) | (
        {t for t in labels if t.isdigit()} - _code_digits(doc_text, sentence)
    )
    if any("." in n for n in nums):  # "release 7.1": in the heading's tokens as 7 and 1
        own_nums |= stated_numbers(_context_of(doc_text, sentence)[1])
    own_nums |= bounded_numbers(nums - own_nums, sentence, question)  # "over £2,000" for "£2,100"
    own_nums |= labelled_numbers(nums - own_nums, sentence, question)  # "grades 1 to 4": 3
    qtype = question_type(question)
    focus = count_focus(question) if qtype == "number" else []
    value = pick_value(qtype, question, sentence, focus) if qtype in ANSWER_KINDS else None
    x = [
        semantic,
        lexical,
        typed,
        float(strict_untyped >= 1.0),
        float(0.0 < strict_untyped < 1.0),
        sum(w for t, w in weights.items() if t in near) / total,
        sum(w for t, w in weights.items() if t in own) / total,
        max((weights[t] for t in missing), default=0.0),
        max(known, default=0.0),
        sum(weights[t] for t in missing if not stats.df.get(t)) / total,
        len(names - sent - labels) / len(names) if names else 0.0,
        len(names - doc_terms) / len(names) if names else 0.0,
        float(bool(nums - own_nums)),
        float(bool(nums - own_nums - _doc_numbers(doc_text))) if nums else 0.0,
        modifier_missing(question, sentence, sent, own, stats),
        max((h.dense_score for h in hits), default=0.0),
        _qualifier_missing(question, sentence, near, doc_text, stats),
        names_missing_idf({t for t in names if t not in STOPWORDS}, own, stats),
        float(rival_bound(question, sentence, value, near)),
        float(focus_conflict(question, sentence, value, focus)),
        float(qualifier_mismatch(question, sentence)),
        _modifier_rival(question, sentence, doc_text, stats),
        max((stats.idf(t) for t in dropped_modifiers(question, sentence, near)), default=0.0),
        role_missing(question, near, stats),
        float(calendar_rival(question, sentence, near)),
        float(asks_money(question) and not holds_money(sentence)),
        partitive_missing(question, focus, near, stats),
        float(reversed_direction(question, sentence)),
        float(rival_filler(question, sentence, near)),
        float(_place_absent(question, sentence, doc_text)),
        name_rival(question, qtype, names, sentence, own, qterms),
        float(not is_yes_no(question) and reversed_comparison(question, sentence)),
        float(rival_version(question, sentence)),
        float(reversed_roles(question, sentence)),
    ]
    # a document in another language: the wording features say nothing (rag.answer.spans)
    return across_languages(FEATURES, x, lambda: load_model().mean, question, sentence, doc_text)


_RELATIVE_TIME = re.compile(
    r"\b(?:year|month|week)[- ]end\b|\b(?:next|last|this|coming)\s+(?:year|month|week|"
    r"spring|summer|autumn|fall|winter|season)\b|\b(?:later|earlier)\s+this\s+\w+\b|"
    r"\bwithin\s+(?:a|one|two|three|\d+)\s+(?:days?|weeks?|months?|years?)\b",
    re.I,
)
"""Times that span typing does not date: a when-question answered by one is not untyped."""


def _modifier_rival(question: str, sentence: str, doc_text: str, stats: CorpusStats) -> float:
    """The IDF of the rarest asked modifier that the sentence (or the sentences around it)
    replaces with another on the same noun (0 when none): another entity of the same kind,
    named by a common noun as often as by a name ("roads department" for "education
    department", "visitor car park" for "staff car park")."""
    neighbours = _context_of(doc_text, sentence)[0]
    return max((stats.idf(t) for t in modifier_rivals(question, sentence, neighbours)), default=0.0)


_PLACE_ASKED = re.compile(r"\bwhere\b", re.I)
_PLACE_PHRASE = re.compile(
    r"\b(?:in|at|on|near|beside|behind|under|above|below|inside|outside|opposite|along|"
    r"around|within|across|beyond|over|into|onto|from|to|towards|between|next to|off)\s+\w"
    r"|(?-i:\b[A-Z][\w&'-]*\s+of\s+[A-Z])",  # "Corrie Brothers Roofing of Dunhaven"
    re.I,
)
"""A place is stated with a preposition of place or direction ("on the label", "in
Harrowgate", "at 12 Fenwick Road", "next to the entrance"): a where-question's sentence
without any ("The controller has a colour display and five buttons") says where nothing is."""


def _qualifier_missing(
    question: str, sentence: str, near: set[str], doc_text: str, stats: CorpusStats
) -> float:
    """The weight of the rarest qualifier of the question (its names, codes, series
    letters, years, ordinals, numbers) that neither the sentence nor its context holds:
    its corpus IDF, at least 0.5 for numbers (a year the corpus often uses still pins
    the answer). A number counts only outside a code ("a 40 metre run" is not answered
    under the title "HX-40"); a series letter only after its word ("Class A")."""
    out = 0.0
    plain: frozenset[str] | None = None
    asked_plain = plain_numbers(question)
    for q in question_qualifiers(question):
        kind = shape(q)
        if kind in {"number", "year", "ordinal"} and number_of(q) not in asked_plain:
            kind = "name"  # the digits of a code the question names ("HX-40")
        if kind == "letter":
            found = any(
                re.search(rf"\b{re.escape(w)}\s+{q}\b", t, re.I)
                for w in letter_words(question, q)
                for t in (sentence, *_context_of(doc_text, sentence))
            )
        elif kind in {"number", "year", "ordinal"}:
            if plain is None:
                plain = plain_numbers(" ".join((sentence, *_context_of(doc_text, sentence))))
            found = number_of(q) in plain or bool(
                bounded_numbers({number_of(q)}, sentence, question)
                | labelled_numbers({number_of(q)}, sentence, question)
            )
        else:
            found = q in near
        if not found:
            w = stats.idf(q)
            out = max(out, w if kind == "name" else max(w, 0.5))
    return out


def _code_digits(doc_text: str, sentence: str) -> set[str]:
    """Numbers that the sentence's heading or the document's title (its first line) holds
    only inside codes: "40" under the title "HX-40" does not state a 40 metre run."""
    labels = "\n".join((_context_of(doc_text, sentence)[1], doc_text.split("\n", 1)[0]))
    return stated_numbers(labels) - plain_numbers(labels)


def _context_of(doc_text: str, sentence: str) -> tuple[str, str]:
    """The context texts of ``sentence`` (its first occurrence) in ``doc_text``."""
    start = doc_text.find(sentence)
    if start < 0:
        return "", ""
    return context_texts(doc_text, start, start + len(sentence))


def _place_absent(question: str, sentence: str, doc_text: str) -> bool:
    """A where-question, and no place phrase in the sentence, nor next to it when the
    sentence names its subject by a pronoun ("Grey seals use it as a pupping site": what
    "it" is, and where, the sentence before says)."""
    if not _PLACE_ASKED.search(question) or _PLACE_PHRASE.search(sentence):
        return False
    return not (
        ANAPHOR.search(sentence) and _PLACE_PHRASE.search(_context_of(doc_text, sentence)[0])
    )
