"""Map multilingual-e5 cosines onto the main encoder's (MiniLM's) scale: an analysis, not used.

The answer step's weights and the abstention model were fitted on MiniLM cosines, which
spread over about -0.1 to 0.9; e5's sit in a narrow, high band (about 0.7 to 0.95), and
higher still between Chinese or Vietnamese texts (by about 0.1 over 60 parallel
sentences). This fits quantile maps: e5 -> MiniLM over every (question, sentence) pair
of the English dev sets (seeds_dev and the suite's dev domains), and per language pair
e5 -> e5 English-English over the parallel sentences of ``conversion_sentences.txt``.

Tried in the answer step and the retrieval scores (issue 16): on the mixed corpus it
raised abstention on unanswerables 0.375 -> 0.562 but false abstention 0.104 -> 0.333
(accuracy 0.542 -> 0.500): e5 separates right from wrong passages less than MiniLM does
(correlation 0.63 over all pairs), so a correct cross-lingual passage maps low. Not
applied; see README.md.

    .venv/bin/python eval/crosslingual/similarity_scale.py
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.embed.encoder import Embedder  # noqa: E402
from rag.ingest.chunking import answer_spans  # noqa: E402
from rag.ingest.readers import load_corpus  # noqa: E402

QUANTILES = (
    0.0,
    0.05,
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    0.95,
    0.98,
    0.99,
    0.995,
    0.999,
    1.0,
)


def dev_sets() -> list[tuple[Path, Path]]:
    """(documents folder, questions file) of every English dev set."""
    out = [(ROOT / "seeds", ROOT / "eval" / "datasets" / "seeds_dev.jsonl")]
    suite = ROOT / "eval" / "suite"
    for d in tomllib.loads((suite / "suite.toml").read_text("utf-8"))["domain"]:
        if d.get("split") == "dev":
            out += [(suite / d["docs"], suite / q) for q in d["questions"]]
    return out


def cosines(main: Embedder, multi: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """All (question, sentence) cosines of the dev sets under both encoders."""
    xs, ys = [], []
    for docs, questions in dev_sets():
        corpus = load_corpus(docs, ROOT)
        sents = [d.text[a:b] for d in corpus for a, b in answer_spans(d.text) if b - a > 20]
        qs = [
            json.loads(line)["question"]
            for line in questions.read_text("utf-8").splitlines()
            if line.strip()
        ]
        q_main = np.stack([main.encode_query(q) for q in qs])
        q_multi = np.stack([multi.encode_query(q) for q in qs])
        ys.append((q_main @ main.encode_many(sents).T).ravel())
        xs.append((q_multi @ multi.encode_many(sents).T).ravel())
    return np.concatenate(xs), np.concatenate(ys)


PAIR_QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 1.0)
LANGS = ("en", "vi", "zh")


def parallel_sentences() -> dict[str, list[str]]:
    """The written parallel sentences of ``conversion_sentences.txt`` (the same 60
    sentences in English, Vietnamese and Chinese), by language."""
    out: dict[str, list[str]] = {lang: [] for lang in LANGS}
    path = Path(__file__).with_name("conversion_sentences.txt")
    for line in path.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            out[lang].append(text)
    return out


def pair_tables(multi: Embedder) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Per (question language, passage language): the quantiles of e5 cosines between the
    parallel sentences (one asked as a query, the other as a passage) and, at the same
    quantiles, those of English against English. The same contents in every language, so
    the difference is the encoder's bias for the pair (same-language text scores higher)."""
    sents = parallel_sentences()
    queries = {lang: np.stack([multi.encode_query(t) for t in sents[lang]]) for lang in LANGS}
    passages = {lang: multi.encode_many(sents[lang]) for lang in LANGS}
    ref = np.quantile((queries["en"] @ passages["en"].T).ravel(), PAIR_QUANTILES)
    out = {}
    for ql in LANGS:
        for pl in LANGS:
            if (ql, pl) != ("en", "en"):
                cos = (queries[ql] @ passages[pl].T).ravel()
                out[(ql, pl)] = (np.quantile(cos, PAIR_QUANTILES), ref)
    return out


def main() -> None:
    cfg = Config.from_env()
    multi = Embedder(cfg.multilingual_model)
    x, y = cosines(Embedder(cfg.embedding_model), multi)
    kx = np.quantile(x, QUANTILES).round(4)
    ky = np.quantile(y, QUANTILES).round(4)
    print(f"{len(x)} pairs; {cfg.multilingual_model} -> {cfg.embedding_model}")
    print(f"    {tuple(float(v) for v in kx)},")
    print(f"    {tuple(float(v) for v in ky)},")
    print("language pairs -> English-English (parallel sentences):")
    for pair, (px, py) in pair_tables(multi).items():
        xs = tuple(float(v) for v in px.round(4))
        ys = tuple(float(v) for v in py.round(4))
        print(f"    {pair}: ({xs}, {ys}),")


if __name__ == "__main__":
    main()
