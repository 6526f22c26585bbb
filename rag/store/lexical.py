"""BM25 over the same chunks as the dense index (bm25s, sparse and fast at scale).

Terms come from :func:`rag.text.index_terms`: lowercased, diacritics folded, stop words
dropped, Porter-stemmed, so "Huu Nghi gate" matches "Hữu Nghị–Youyi Guan" and
"mediators" matches "mediation"; Chinese text is indexed as character bigrams. A corpus
with no indexable term at all (a script the tokenizer does not split) gets an empty
lexical side, and dense retrieval alone answers.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError
from rag.text import index_terms


class BM25Index:
    """A bm25s index with its vocabulary; rows are chunk ids 0..n-1."""

    def __init__(self, model: object, vocab: dict[str, int], n_docs: int) -> None:
        self.model = model
        self.vocab = vocab
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25Index:
        """Index ``texts`` (one per chunk, in row order)."""
        import bm25s

        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        for text in texts:
            ids.append([vocab.setdefault(t, len(vocab)) for t in index_terms(text)])
        model = bm25s.BM25()
        if vocab:  # bm25s cannot index a corpus without a single term (raises ValueError)
            model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        return cls(model, vocab, len(texts))

    def __len__(self) -> int:
        return self.n_docs

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every row for ``query``; None when no query term is indexed."""
        q = [self.vocab[t] for t in dict.fromkeys(index_terms(query)) if t in self.vocab]
        if not q or self.n_docs == 0:  # (an empty vocabulary: no q, and no model to ask)
            return None
        return self.model.get_scores(q)

    def search(
        self, query: str, k: int, scores: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, row ids) for ``query``; empty when no query term is known."""
        scores = self.scores(query) if scores is None else scores
        if scores is None:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        k = min(k, self.n_docs)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return scores[top][keep].astype(np.float32), top[keep].astype(np.int64)

    def save(self, folder: Path) -> None:
        """Write into ``folder`` through a temp folder and a rename."""
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.n_docs and self.vocab:
            self.model.save(str(tmp / "bm25"))
        (tmp / "vocab.json").write_text(
            json.dumps({"n_docs": self.n_docs, "vocab": self.vocab}, ensure_ascii=False), "utf-8"
        )
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)

    @classmethod
    def load(cls, folder: Path, expected: int) -> BM25Index:
        """Read a saved index into memory, checking it matches the chunk count."""
        import bm25s

        try:
            meta = json.loads((folder / "vocab.json").read_text("utf-8"))
            model = (
                bm25s.BM25.load(str(folder / "bm25"), mmap=False)
                if meta["n_docs"] and meta["vocab"]
                else bm25s.BM25()  # no chunks, or chunks without a single indexable term
            )
        except Exception as exc:
            raise IndexCorruptError(
                f"{folder} (BM25 index) cannot be read ({type(exc).__name__}: {str(exc)[:100]}); "
                "run `rag index --rebuild`"
            ) from None
        if meta["n_docs"] != expected:
            raise IndexCorruptError(
                f"{folder} indexes {meta['n_docs']} chunks, the manifest expects {expected}; "
                "run `rag index --rebuild`"
            )
        return cls(model, meta["vocab"], meta["n_docs"])
