"""Why-questions: the sentence that gives a reason.

"Why was the decision put off?" is matched in meaning by the sentence that tells of the
decision ("Pellworth Estates applied to convert the Old Corn Exchange ..."), while the
answer is in the one that says why ("... deferred so that a bat survey can be carried out
first"). English marks a reason or a purpose with a few connectives in any document:
*because*, *so that*, *in order to*, *due to*, *as a result of*, *since* opening a clause,
*the reason*, *which is why*; a purpose with *its purpose*, *meant to*, *intended for*,
*aimed at*; a consequence avoided with *otherwise* ("Drain the unit. Otherwise the water
can freeze"). When the sentence that matches the question gives no reason, the next one in
its paragraph often does, and is quoted with it (:func:`with_reason`). Nothing here names
a word of one corpus.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from rag.ingest.chunking import answer_spans
from rag.types import Chunk

_WHY = re.compile(
    r"^\W*(?:and\s+|but\s+)?(?:why\b|what\s+(?:explains|is\s+the\s+reason|was\s+the\s+reason|"
    r"are\s+the\s+reasons|were\s+the\s+reasons|caused|causes|led\s+to)\b|how\s+come\b)",
    re.I,
)
_REASON = re.compile(
    r"\b(?:because|so\s+that|in\s+order\s+(?:to|that)|due\s+to|owing\s+to|thanks\s+to|"
    r"as\s+a\s+result\s+of|on\s+the\s+grounds\s+that|which\s+is\s+why|"
    r"that\s+is\s+why|this\s+is\s+why|caused\s+by|so\s+as\s+to|reasons?|otherwise|in\s+case|"
    r"purposes?|(?:meant|intended|designed|aimed)\s+(?:to|for|at)|aims?\s+(?:to|at))\b"
    r"|(?:^|[,;]\s*)(?:since|as)\s+\w+",
    re.I,
)


@lru_cache(maxsize=1024)
def asks_why(question: str) -> bool:
    """Does the question ask for a reason ("Why ...?", "What explains ...?", "What was
    the reason ...?")?"""
    return bool(_WHY.match(question))


def gives_reason(sentence: str) -> bool:
    """Does the sentence state a reason or a purpose (a causal connective in it)?"""
    return bool(_REASON.search(sentence))


MAX_CHARS = 480
"""The longest sentence-and-reason passage quoted as one span."""


def with_reason(doc_text: str, sentence: Chunk) -> Chunk:
    """The sentence, with the next one of its paragraph when it gives no reason and that
    one does ("If the heat pump must be switched off in winter ..., drain the outdoor
    unit." + "Otherwise the water in the unit can freeze ..."), as one quotable span
    (offsets into the document); the sentence itself otherwise."""
    if gives_reason(sentence.text):
        return sentence
    para_end = doc_text.find("\n\n", sentence.end)
    para_end = len(doc_text) if para_end < 0 else para_end
    following = answer_spans(doc_text, sentence.end, para_end)[:1]
    if not following:
        return sentence
    a, b = following[0]
    if b - sentence.start > MAX_CHARS or not gives_reason(doc_text[a:b]):
        return sentence
    return replace(sentence, end=b, text=doc_text[sentence.start : b])
