"""Metrics for the evaluation harness (:mod:`rag.evaluation.runner`): pure functions, then the
per-question :class:`Scorer` and the dataset-level aggregation.

Answer matching is SQuAD-style with two extensions for this corpus: diacritics are
folded (:func:`rag.text.fold`) and numbers are compared as numbers ("1,182" ==
"1182", "twenty" == "20"). Retrieval metrics take, for each retrieved passage in
rank order, the set of evidence strings (by index) that the passage contains.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.answer.citations import Claim, SupportChecker, split_claims, strip_markers
from rag.config import Config
from rag.evaluation.dataset import MULTI_TYPES, TYPES, Item
from rag.text import fold
from rag.types import Answer, Chunk, Citation

if TYPE_CHECKING:
    from rag.embed.encoder import Embedder

RECALL_KS = (1, 3, 5)
METRICS: dict[str, str] = {
    "recall@1": "Share of an item's evidence strings that lie inside the top-ranked passage.",
    "recall@3": "Share of an item's evidence strings that lie inside one of the top 3 passages.",
    "recall@5": "Share of an item's evidence strings that lie inside one of the top 5 passages.",
    "mrr": "Mean of 1/rank of the first retrieved passage that contains any evidence string (0 if none).",
    "ndcg@5": "nDCG@5 with each evidence string as one relevant item gained at the rank of the first passage containing it.",
    "answer_accuracy": "Share of answerable questions whose answer contains the normalised gold answer or an alias (numbers as numbers, diacritics folded; multi-part answers may match part by part).",
    "answer_f1": "SQuAD-style token F1 between the answer and the best-matching gold answer or alias.",
    "citation_precision": "Share of citations whose quote overlaps a gold evidence span or is judged by the support checker to support the sentence it is attached to.",
    "citation_recall": "Share of answer sentences that carry at least one such correct citation.",
    "faithfulness": "Share of answer sentences that the answer chain's own support checker (min_support) judges supported by their cited quotes.",
    "abstention_rate": "Share of unanswerable questions on which the assistant abstains (abstain_correct).",
    "false_abstention": "Share of answerable questions on which the assistant wrongly abstains (lower is better).",
}
LOWER_IS_BETTER = frozenset({"false_abstention"})
MULTIARTICLE_METRICS: dict[str, str] = {
    "both_sides_cited": "Share of disagreement questions whose answer gives every side's value and cites, for each side, a document that gives it.",
    "newest_preferred": "Share of recency questions whose answer holds the newest value and none of the older (stale) values.",
    "filter_respected": "Share of filtered questions whose citations all come from the documents the filter allows (source filters; date filters are enforced by retrieval).",
}
"""Metrics of many-article questions (eval/multiarticle): reported where such items exist."""
STAGES = ("condense", "retrieve", "generate", "verify", "total")

_SMALL = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
_TEENS = "fifteen sixteen seventeen eighteen nineteen twenty"
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(f"{_SMALL} {_TEENS}".split(" "))} | {
    w: str(n) for w, n in (_TENS | {"ninety": 90, "hundred": 100}).items()
}
_ARTICLES = frozenset({"a", "an", "the"})
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z0-9]+")
_PART_SPLIT = re.compile(r"\s+and\s+|;|,(?!\d)", re.I)
_PARENS = re.compile(r"\([^()]*\)")


def answer_tokens(text: str) -> list[str]:
    """Normalised tokens: folded, lowercased, punctuation and articles dropped, numbers canonical.

    >>> answer_tokens("The 1,182 people in Lạng Sơn")
    ['1182', 'people', 'in', 'lang', 'son']
    """
    out = []
    for tok in _TOKEN.findall(fold(text)):
        if tok in _ARTICLES:
            continue
        out.append(_canonical_number(_NUMBER_WORDS.get(tok, tok)))
    return out


def _canonical_number(tok: str) -> str:
    """ "20.0" -> "20", "2.50" -> "2.5"; other tokens unchanged."""
    if not tok[0].isdigit():
        return tok
    value = float(tok)
    return str(int(value)) if value.is_integer() else repr(value)


def contains_tokens(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` occurs as a contiguous run of tokens in ``haystack`` (empty: False)."""
    n = len(needle)
    if n == 0:
        return False
    first = needle[0]
    return any(
        haystack[i] == first and list(haystack[i : i + n]) == list(needle)
        for i in range(len(haystack) - n + 1)
    )


def key_parts(answer: str) -> list[str]:
    """The parts of a multi-part answer: split on " and ", ";" and "," (not inside numbers).

    Parenthesised remarks are dropped: "A (upgrade) and B" -> ["A", "B"].
    """
    text = _PARENS.sub(" ", answer)
    return [p.strip() for p in _PART_SPLIT.split(text) if answer_tokens(p)]


def answer_correct(
    prediction: str, answer: str, aliases: Sequence[str] = (), *, multi: bool = False
) -> bool:
    """Whether the normalised answer or an alias is contained in the prediction.

    For multi-part questions the prediction also counts as correct when every key
    part of the answer (or of one alias) is contained, in any order.
    """
    pred = answer_tokens(prediction)
    golds = [g for g in (answer, *aliases) if answer_tokens(g)]
    if any(contains_tokens(pred, answer_tokens(g)) for g in golds):
        return True
    if not multi:
        return False
    for gold in golds:
        parts = key_parts(gold)
        if len(parts) > 1 and all(contains_tokens(pred, answer_tokens(p)) for p in parts):
            return True
    return False


def gives_value(prediction: str, value: str) -> bool:
    """Whether the prediction contains ``value`` as a whole run of normalised tokens."""
    return contains_tokens(answer_tokens(prediction), answer_tokens(value))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 of the prediction against the best-matching gold answer (0 when none)."""
    pred = answer_tokens(prediction)
    best = 0.0
    for gold in golds:
        ref = answer_tokens(gold)
        common = sum((Counter(pred) & Counter(ref)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


# ---------------------------------------------------------------------------- retrieval


def first_ranks(found: Sequence[Collection[int]], n_evidence: int) -> list[int | None]:
    """For each evidence string, the 1-based rank of the first passage containing it (or None).

    ``found[i]`` is the set of evidence indices that the passage at rank ``i + 1`` contains.
    """
    ranks: list[int | None] = [None] * n_evidence
    for rank, hits in enumerate(found, start=1):
        for e in hits:
            if 0 <= e < n_evidence and ranks[e] is None:
                ranks[e] = rank
    return ranks


def recall_at_k(found: Sequence[Collection[int]], n_evidence: int, k: int) -> float:
    """Share of the evidence strings that lie inside at least one of the top ``k`` passages."""
    if n_evidence == 0:
        return 0.0
    ranks = first_ranks(found, n_evidence)
    return sum(1 for r in ranks if r is not None and r <= k) / n_evidence


def reciprocal_rank(found: Sequence[Collection[int]]) -> float:
    """1 / rank of the first passage that contains any evidence string (0 when none does)."""
    for rank, hits in enumerate(found, start=1):
        if hits:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(found: Sequence[Collection[int]], n_evidence: int, k: int = 5) -> float:
    """nDCG@k with each evidence string as one relevant item, gained at its first rank.

    DCG = sum over evidence found in the top ``k`` of 1 / log2(1 + rank); the ideal
    places the evidence strings at ranks 1..n. Capped at 1 (two evidence strings in
    one passage at rank 1 are as good as it gets).
    """
    if n_evidence == 0:
        return 0.0
    ranks = first_ranks(found, n_evidence)
    dcg = sum(1.0 / math.log2(1 + r) for r in ranks if r is not None and r <= k)
    ideal = sum(1.0 / math.log2(1 + i) for i in range(1, min(n_evidence, k) + 1))
    return min(1.0, dcg / ideal)


# ---------------------------------------------------------------------------- aggregation


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of a list of milliseconds (linear-interpolated percentiles)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
        "n": len(values),
    }


# ---------------------------------------------------------------------------- scoring


class _CachedEncoder:
    """An :class:`Embedder` stand-in for the support checker: same model, vectors cached,
    so each answer's claims and quotes are embedded in one batch and only once."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._vecs: dict[str, np.ndarray] = {}

    def prefetch(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vecs]
        if missing:
            # encode_documents, not encode_many: scoring must not warm the chain's own caches
            vecs = self.embedder.encode_documents(missing)
            self._vecs.update(zip(missing, vecs, strict=True))

    def encode_many(self, texts: Sequence[str]) -> np.ndarray:
        self.prefetch(texts)
        return np.vstack([self._vecs[t] for t in texts])


class Scorer:
    """Scores one answer against its dataset item, for one configuration.

    Support is judged by :class:`~rag.answer.citations.SupportChecker` with the config's
    ``min_support``: the same checker and threshold as the answer chain's verification.
    """

    def __init__(self, config: Config, embedder: Embedder) -> None:
        self.config = config
        self.encoder = _CachedEncoder(embedder)
        self.checker = SupportChecker(self.encoder, config.min_support)  # type: ignore[arg-type]
        self._keys: dict[str, str] = {}

    def file_key(self, source: str) -> str:
        """A document's source path as a file name relative to the corpus folder."""
        if source not in self._keys:
            path = self.config.path(Path(source)).resolve()
            try:
                key = path.relative_to(self.config.corpus_path.resolve()).as_posix()
            except ValueError:
                key = Path(source).as_posix()
            self._keys[source] = key
        return self._keys[source]

    def evidence_in(self, item: Item, chunk: Chunk) -> set[int]:
        """Indices of the item's evidence strings that lie wholly inside ``chunk``."""
        key = self.file_key(chunk.source)
        return {
            i
            for i, occ in enumerate(item.locations)
            if any(f == key and chunk.start <= a and b <= chunk.end for f, a, b in occ)
        }

    def overlaps_evidence(self, item: Item, cit: Citation) -> bool:
        """Whether a citation's span overlaps any evidence occurrence in the same file."""
        key = self.file_key(cit.source)
        return any(
            f == key and cit.start < b and a < cit.end for occ in item.locations for f, a, b in occ
        )

    def score(self, item: Item, answer: Answer) -> dict[str, Any]:
        """All per-question metrics, plus a failure reason (None when all is well)."""
        scores: dict[str, Any] = {"abstained": answer.abstained}
        if item.answerable:
            scores |= self._retrieval(item, answer)
            text = strip_markers(answer.answer)
            correct = not answer.abstained and answer_correct(
                text, item.answer, item.aliases, multi=item.type in MULTI_TYPES
            )
            scores["answer_correct"] = correct
            scores["answer_f1"] = 0.0 if answer.abstained else round(token_f1(text, item.golds), 4)
        scores |= self._citations(item, answer)
        scores |= self._many_articles(item, answer)
        failure, issues = _diagnose(item, scores)
        return {
            "id": item.id,
            "line": item.line,
            "type": item.type,
            "qtype": item.kind,
            "miss": item.miss or None,
            "question": item.question,
            "expected": item.answer,
            "standalone_question": answer.standalone_question,
            "answer": answer.answer,
            "abstained": answer.abstained,
            "citations": [c.to_dict() for c in answer.citations],
            "retrieved": [
                f"{self.file_key(h.chunk.source)}:{h.chunk.start}-{h.chunk.end}"
                for h in answer.passages
            ],
            "metrics": scores,
            "failure": failure,
            "issues": issues,
            "timings_ms": {k: round(v, 3) for k, v in answer.timings_ms.items()},
        }

    def _many_articles(self, item: Item, answer: Answer) -> dict[str, bool]:
        """both_sides_cited, newest_preferred and filter_respected, for the items they
        concern (see :data:`MULTIARTICLE_METRICS`)."""
        text = "" if answer.abstained else strip_markers(answer.answer)
        cited = {self.file_key(c.source) for c in answer.citations}
        out: dict[str, bool] = {}
        if item.type == "disagreement" and item.sides:
            out["both_sides_cited"] = all(
                answer_correct(text, side.answer, side.aliases)
                and bool(cited & set(side.source_files))
                for side in item.sides
            )
        if item.type == "recency":
            out["newest_preferred"] = answer_correct(text, item.answer, item.aliases) and not any(
                gives_value(text, stale) for stale in item.stale_answers
            )
        if item.type == "filtered" and item.filter and item.filter.get("sources"):
            allowed = set(item.filter["sources"])
            out["filter_respected"] = not answer.abstained and cited <= allowed
        return out

    def _retrieval(self, item: Item, answer: Answer) -> dict[str, float]:
        found = [self.evidence_in(item, h.chunk) for h in answer.passages]
        n = len(item.evidence)
        out = {f"recall@{k}": recall_at_k(found, n, k) for k in RECALL_KS}
        out["recall@all"] = recall_at_k(found, n, max(len(found), 1))
        out["mrr"] = reciprocal_rank(found)
        out["ndcg@5"] = round(ndcg_at_k(found, n, 5), 4)
        return out

    def _citations(self, item: Item, answer: Answer) -> dict[str, float | None]:
        """Citation precision/recall and faithfulness of one answer (None when abstained)."""
        claims = [] if answer.abstained else split_claims(answer.answer)
        by_n = {c.n: c for c in answer.citations}
        self.encoder.prefetch([c.text for c in claims] + [c.quote for c in by_n.values()])
        correct = {n: self.overlaps_evidence(item, c) for n, c in by_n.items()}
        recalled, faithful = [], []
        for claim in claims:
            cited = [by_n[n] for n in dict.fromkeys(claim.markers) if n in by_n]
            supports = self._supports(claim, cited)
            for c, ok in zip(cited, supports, strict=True):
                correct[c.n] = correct[c.n] or ok
            recalled.append(
                any(
                    ok or self.overlaps_evidence(item, c)
                    for c, ok in zip(cited, supports, strict=True)
                )
            )
            faithful.append(any(supports))
        return {
            "citations": len(by_n),
            "citation_precision": (sum(correct.values()) / len(correct))
            if correct and claims
            else None,
            "citation_recall": mean(recalled),
            "faithfulness": mean(faithful),
        }

    def _supports(self, claim: Claim, cited: Sequence[Citation]) -> list[bool]:
        """Whether each cited quote supports the claim, by the answer chain's checker."""
        if not cited:
            return []
        scores = self.checker.scores(claim.text, [c.quote for c in cited])
        return [self.checker.supports(float(s)) for s in scores]


def _diagnose(item: Item, s: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The main failure reason of one answer and any lesser issues."""
    issues = []
    if item.answerable and s["recall@all"] == 0:
        issues.append("evidence not retrieved")
    elif item.answerable and s["recall@all"] < 1:
        issues.append("evidence partly retrieved")
    if s.get("citation_precision") is not None and s["citation_precision"] < 1:
        issues.append("citation not supporting")
    if s.get("faithfulness") is not None and s["faithfulness"] < 1:
        issues.append("sentence not supported by its citations")
    if not item.answerable:
        return (None if s["abstained"] else "should have abstained"), issues
    if s["abstained"]:
        return "wrongly abstained", issues
    if not s["answer_correct"]:
        return ("evidence not retrieved" if s["recall@all"] == 0 else "wrong answer"), issues
    return None, issues


# ---------------------------------------------------------------------------- aggregation


def error_row(item: Item, message: str) -> dict[str, Any]:
    """The row of a question the answer chain refused (e.g. over the length limit).

    It is listed with its error in the reports but left out of every metric: the
    question was never answered, so it can neither be right nor wrong.
    """
    return {
        "id": item.id,
        "line": item.line,
        "type": item.type,
        "qtype": item.kind,
        "miss": item.miss or None,
        "question": item.question[:200],
        "expected": item.answer,
        "answer": "",
        "abstained": False,
        "citations": [],
        "retrieved": [],
        "metrics": {},
        "failure": "error",
        "issues": [message],
        "error": message,
        "timings_ms": {},
    }


def answer_words(rows: Sequence[dict[str, Any]]) -> float | None:
    """Median length in words of the answers given (markers stripped; abstentions and
    errors left out): how short the assistant states what was asked."""
    counts = [
        len(strip_markers(r["answer"]).split())
        for r in rows
        if not r.get("error") and not r["abstained"]
    ]
    return float(np.median(counts)) if counts else None


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Dataset-level metrics from per-question rows (see :data:`METRICS`); error rows
    (questions the chain refused) are left out."""
    rows = [r for r in rows if not r.get("error")]
    ans = [r["metrics"] for r in rows if r["type"] != "unanswerable"]
    una = [r["metrics"] for r in rows if r["type"] == "unanswerable"]
    every = [r["metrics"] for r in rows]
    out: dict[str, float | None] = {}
    for key in ("recall@1", "recall@3", "recall@5", "mrr", "ndcg@5", "answer_f1"):
        out[key] = mean([s[key] for s in ans])
    out["answer_accuracy"] = mean([float(s["answer_correct"]) for s in ans])
    for key in ("citation_precision", "citation_recall", "faithfulness"):
        out[key] = mean([s[key] for s in every])
    out["abstention_rate"] = mean([float(s["abstained"]) for s in una])
    out["false_abstention"] = mean([float(s["abstained"]) for s in ans])
    keys = list(METRICS)
    for key in MULTIARTICLE_METRICS:  # only where the rows hold such items
        values = [float(s[key]) for s in every if key in s]
        if values:
            out[key] = mean(values)
            keys.append(key)
    return {k: (None if out[k] is None else round(out[k], 4)) for k in keys}


def by_type(rows: Sequence[dict[str, Any]], key: str = "type") -> dict[str, dict[str, Any]]:
    """Headline metrics per question type (``key="qtype"``: per fine type, see
    :func:`headline`)."""
    if key != "type":
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r.get(key) or r["type"], []).append(r)
        return {name: headline(groups[name]) for name in sorted(groups)}
    out = {}
    for typ in TYPES:
        sub = [r for r in rows if r["type"] == typ]
        if sub:
            s = summarize(sub)
            keep = (
                ("abstention_rate",)
                if typ == "unanswerable"
                else ("answer_accuracy", "recall@5", "mrr")
            )
            extra = {k: s[k] for k in MULTIARTICLE_METRICS if k in s}
            out[typ] = {"n": len(sub)} | {k: s[k] for k in keep} | extra
    return out


def latency(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50/p95/max milliseconds per answer-chain stage."""
    stages = list(STAGES) + sorted({k for r in rows for k in r["timings_ms"]} - set(STAGES))
    out = {}
    for stage in stages:
        vals = [r["timings_ms"][stage] for r in rows if stage in r["timings_ms"]]
        if vals:
            out[stage] = latency_summary(vals)
    return out


HEADLINE = (
    "answer_accuracy",
    "abstention_rate",
    "false_abstention",
    "citation_precision",
    "recall@5",
)


def headline(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures the suite reports for any group of rows: counts, the headline metrics
    and the median answer length in words."""
    ok = [r for r in rows if not r.get("error")]
    s = summarize(ok)
    return {
        "n": len(rows),
        "answerable": sum(1 for r in ok if r["type"] != "unanswerable"),
        "unanswerable": sum(1 for r in ok if r["type"] == "unanswerable"),
        "errors": len(rows) - len(ok),
        **{k: s[k] for k in HEADLINE},
        "answer_words_p50": answer_words(ok),
        **{k: s[k] for k in MULTIARTICLE_METRICS if k in s},
    }


def selective(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Coverage and selective accuracy of one run, for the calibration plot.

    coverage: share of questions answered (not abstained). selective_accuracy: share
    of the answered questions answered right (an answered unanswerable is wrong).
    answer_accuracy and abstention_rate as in :func:`summarize`.
    """
    ok = [r for r in rows if not r.get("error")]
    answered = [r for r in ok if not r["abstained"]]
    right = [r for r in answered if r["metrics"].get("answer_correct")]
    s = summarize(ok)
    return {
        "coverage": round(len(answered) / len(ok), 4) if ok else None,
        "selective_accuracy": round(len(right) / len(answered), 4) if answered else None,
        "answer_accuracy": s["answer_accuracy"],
        "abstention_rate": s["abstention_rate"],
        "false_abstention": s["false_abstention"],
    }
