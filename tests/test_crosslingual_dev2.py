"""The second cross-lingual dev set (eval/crosslingual/docs_dev2): new hand-written
articles and questions, a check on the dev changes beside the set they were tuned on."""

from __future__ import annotations

import json
from pathlib import Path

from rag.evaluation.dataset import load_dataset
from rag.lang import detect_language

ROOT = Path(__file__).resolve().parents[1]
XL = ROOT / "eval" / "crosslingual"
DEV2 = ROOT / "eval" / "datasets" / "crosslingual_dev2.jsonl"


def test_dev2_is_valid_and_its_own_document_set() -> None:
    """Every evidence string located, every pair asked in its language, no article text
    or question shared with the dev or test splits."""
    dataset = load_dataset(DEV2, XL / "docs_dev2")
    records = [json.loads(x) for x in DEV2.read_text("utf-8").splitlines() if x]
    assert len(dataset.items) == len(records) >= 20
    assert {r["lang"] for r in records} == {
        "vi->en",
        "zh->en",
        "en->vi",
        "vi->vi",
        "en->zh",
        "zh->zh",
    }
    for rec in records:
        assert detect_language(rec["question"]) == rec["lang"].split("->")[0], rec["id"]
        assert rec["answerable"] or rec.get("miss"), rec["id"]
    texts = {p.read_bytes() for p in (XL / "docs_dev2").rglob("*.txt")}
    for other in ("docs", "docs_test"):
        assert not texts & {p.read_bytes() for p in (XL / other).rglob("*.txt")}
    questions = {r["question"] for r in records}
    for name in ("crosslingual.jsonl", "crosslingual_test.jsonl"):
        path = ROOT / "eval" / "datasets" / name
        other_q = {json.loads(x)["question"] for x in path.read_text("utf-8").splitlines() if x}
        assert not questions & other_q
