"""Why-questions: the sentence that gives a reason.

"Why was the decision put off?" is matched in meaning by the sentence that tells of the
decision ("Pellworth Estates applied to convert the Old Corn Exchange ..."), while the
answer is in the one that says why ("... deferred so that a bat survey can be carried out
first"). English marks a reason or a purpose with a few connectives in any document:
*because*, *so that*, *in order to*, *due to*, *as a result of*, *since* opening a clause,
*the reason*, *which is why*; a purpose with *its purpose*, *meant to*, *intended for*,
*aimed at*; a consequence avoided with *otherwise* ("Drain the unit. Otherwise the water
can freeze"). When the sentence that matches the question gives no reason, the next one in
its paragraph often does, and is quoted with it
(:func:`rag.answer.neighbours.with_reason`). Nothing here names a word of one corpus.
"""

from __future__ import annotations

import re
from functools import lru_cache

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
