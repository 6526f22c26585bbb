"""Deterministic synthetic corpora for benchmarks, recombined from the seed documents.

Sentences of the seeds become templates: numbers and capitalised names (past the
first word) turn into slots. A corpus of ``n`` chunks fills them with numbers of the
same width and names built from the seeds' own name syllables ("Lạng Sơn", "Quang
Ninh Tây", ...), a few sentences per chunk up to ~``chunk_chars`` characters, ten
chunks per document. The same ``seed`` gives the same corpus, byte for byte.

Vectors for large corpora (where embedding a million chunks would take hours) come
from :func:`random_unit_vectors` (uniform on the sphere: the worst case for an
approximate index, no neighbourhood structure) or :func:`derived_vectors` (mixtures of
real embeddings of sampled chunks plus noise: neighbourhoods like real text).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.text import sentence_spans
from rag.types import Document

CHUNKS_PER_DOC = 10
_NUM = re.compile(r"\d[\d,.]*\d|\d")
# A run of capitalised words (letters with diacritics, hyphens, apostrophes).
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-ZÀ-ỸĐ][\wÀ-ỹđĐ'’-]*(?:[ –-][A-ZÀ-ỸĐ][\wÀ-ỹđĐ'’-]*)*")
_FALLBACK = (
    "Border guard forces of Lạng Sơn and Guangxi held 20 talks and 74 meetings in 2025. "
    "Customs officers at the Hữu Nghị gate cleared 1,182 trucks on Tuesday. "
    "The two sides exchanged 679 official letters and made 113 hotline calls."
)


@dataclass(frozen=True)
class Template:
    """A sentence with ``{}`` slots.

    ``kinds[i]``: "e" a name, "y" a year, "n" a number of ``widths[i]`` digits, "c" the
    same written with thousands separators.
    """

    text: str
    kinds: tuple[str, ...]
    widths: tuple[int, ...]


def seed_sentences(corpus_dir: Path | None) -> list[str]:
    """The sentences of the ``.txt``/``.md`` seed files (a built-in paragraph if none)."""
    texts = []
    if corpus_dir is not None and corpus_dir.is_dir():
        for p in sorted(corpus_dir.rglob("*")):
            if p.is_file() and p.suffix.lower() in {".txt", ".md"}:
                texts.append(p.read_text("utf-8", errors="replace"))
    sentences = []
    for text in texts or [_FALLBACK]:
        for a, b in sentence_spans(text):
            s = " ".join(text[a:b].split())
            if 40 <= len(s) <= 400:
                sentences.append(s)
    return sentences or [" ".join(_FALLBACK.split())]


def make_templates(sentences: Sequence[str]) -> tuple[list[Template], list[str]]:
    """Templates of ``sentences`` and the name syllables found in them."""
    templates, syllables = [], set()
    for s in sentences:
        kinds: list[str] = []
        widths: list[int] = []
        slots: list[tuple[int, int, str]] = []
        for m in _NAME.finditer(s):
            slots.append((m.start(), m.end(), "e"))
            syllables.update(w for w in re.split(r"[ –-]", m.group()) if len(w) > 1)
        for m in _NUM.finditer(s):
            if not any(a <= m.start() < b for a, b, _ in slots):
                g = m.group()
                kind = "y" if re.fullmatch(r"(19|20)\d\d", g) else "c" if "," in g else "n"
                slots.append((m.start(), m.end(), kind))
        slots.sort()
        out, pos = [], 0
        for a, b, kind in slots:
            out.append(s[pos:a].replace("{", "(").replace("}", ")"))
            out.append("{}")
            kinds.append(kind)
            widths.append(len(re.sub(r"\D", "", s[a:b])) if kind != "e" else 0)
            pos = b
        out.append(s[pos:].replace("{", "(").replace("}", ")"))
        templates.append(Template("".join(out), tuple(kinds), tuple(widths)))
    return templates, sorted(syllables) or ["Lang", "Son", "Quang", "Ninh"]


class SyntheticCorpus:
    """``n`` chunks (texts, titles, documents) generated from seed sentences."""

    def __init__(
        self,
        n: int,
        *,
        seed: int = 1234,
        corpus_dir: Path | None = None,
        chunk_chars: int = 400,
    ) -> None:
        self.n = n
        self.seed = seed
        self.chunk_chars = chunk_chars
        self.templates, syllables = make_templates(seed_sentences(corpus_dir))
        rng = np.random.default_rng(seed)
        # Names: 1-3 seed syllables, shuffled: thousands of distinct entities.
        self.names = sorted(
            {
                " ".join(rng.choice(syllables, size=int(k), replace=True))
                for k in rng.integers(1, 4, size=4000)
            }
        )
        self._texts: list[str] | None = None

    def _generate(self) -> Iterator[str]:
        """Chunk texts, without end."""
        rng = np.random.default_rng(self.seed + 1)
        t = self.templates
        names = self.names
        batch = 4096
        while True:
            # Draw random choices in bulk: sentence picks, names, digits.
            picks = rng.integers(0, len(t), size=(batch, 8))
            name_ix = rng.integers(0, len(names), size=(batch, 64))
            digits = rng.integers(0, 10**9, size=(batch, 64))
            for row in range(batch):
                parts, size, ni = [], 0, 0
                for j in picks[row]:
                    tpl = t[j]
                    vals = []
                    for kind, width in zip(tpl.kinds, tpl.widths, strict=True):
                        r = int(digits[row, ni % 64])
                        if kind == "e":
                            vals.append(names[name_ix[row, ni % 64]])
                        elif kind == "y":
                            vals.append(str(1990 + r % 40))
                        else:
                            v = r % (10 ** max(1, min(width, 9)))
                            vals.append(f"{v:,}" if kind == "c" else str(v))
                        ni += 1
                    sentence = tpl.text.format(*vals)
                    if parts and size + len(sentence) > self.chunk_chars * 1.2:
                        continue
                    parts.append(sentence)
                    size += len(sentence) + 1
                    if size >= self.chunk_chars:
                        break
                yield " ".join(parts)

    def chunk_texts(self) -> list[str]:
        """Exactly ``n`` chunk texts."""
        if self._texts is None:
            gen = self._generate()
            self._texts = [next(gen) for _ in range(self.n)]
        return self._texts

    def title(self, doc: int) -> str:
        rng = np.random.default_rng(self.seed * 1_000_003 + doc)
        a, b = rng.integers(0, len(self.names), size=2)
        return f"{self.names[a]} and {self.names[b]}: report {doc + 1}"

    def documents(self) -> tuple[list[Document], np.ndarray]:
        """Documents of :data:`CHUNKS_PER_DOC` chunks each, and the chunk rows.

        Rows have the :class:`rag.store.index.ChunkTable` layout (doc, ordinal, start, end),
        so ``doc.text[start:end]`` is the chunk text.
        """
        from rag.store.index import CHUNK_DTYPE

        texts = self.chunk_texts()
        docs: list[Document] = []
        rows = np.zeros(len(texts), dtype=CHUNK_DTYPE)
        for d, first in enumerate(range(0, len(texts), CHUNKS_PER_DOC)):
            parts = texts[first : first + CHUNKS_PER_DOC]
            title = self.title(d)
            body, pos = [], len(title) + 2
            for o, p in enumerate(parts):
                rows[first + o] = (d, o, pos, pos + len(p))
                body.append(p)
                pos += len(p) + 2
            text = title + "\n\n" + "\n\n".join(body)
            doc_id = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
            docs.append(Document(doc_id, f"synthetic/{d:07d}.txt", title, text))
        return docs, rows

    def write(self, folder: Path) -> list[Path]:
        """Write the documents as ``.txt`` files (title line, blank line, paragraphs)."""
        folder.mkdir(parents=True, exist_ok=True)
        docs, _ = self.documents()
        paths = []
        for i, d in enumerate(docs):
            p = folder / f"{i:07d}.txt"
            p.write_text(d.text + "\n", "utf-8")
            paths.append(p)
        return paths

    def questions(self, count: int, extra: Sequence[str] = ()) -> list[str]:
        """``count`` queries: ``extra`` (e.g. real dev questions) then templated ones."""
        rng = np.random.default_rng(self.seed + 2)
        forms = (
            "How many {} did {} report in {}?",
            "What did {} and {} agree on {}?",
            "When did the border guards of {} meet {}?",
            "How many trucks crossed the {} gate in {}?",
            "Who leads the {} border guard command in {}?",
        )
        out = list(extra)[:count]
        nouns = ("talks", "meetings", "hotline calls", "official letters", "patrols", "cases")
        while len(out) < count:
            form = forms[int(rng.integers(len(forms)))]
            slots = form.count("{}")
            vals = []
            for i in range(slots):
                if i == slots - 1 and "in {}" in form:
                    vals.append(str(int(rng.integers(2015, 2027))))
                elif "How many {}" in form and i == 0 and form.startswith("How many {} did"):
                    vals.append(nouns[int(rng.integers(len(nouns)))])
                else:
                    vals.append(self.names[int(rng.integers(len(self.names)))])
            out.append(form.format(*vals))
        return out


def random_unit_vectors(n: int, dim: int, seed: int = 1234) -> np.ndarray:
    """``n`` float32 vectors uniform on the unit sphere (made in blocks to bound memory)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for a in range(0, n, 65536):
        block = rng.standard_normal((min(65536, n - a), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[a : a + len(block)] = block
    return out


def derived_vectors(
    pool: np.ndarray, n: int, *, noise: float = 0.5, seed: int = 1234
) -> np.ndarray:
    """``n`` unit vectors near real embeddings: ``a*p_i + (1-a)*p_j + noise``, normalised.

    ``pool`` holds real (normalised) embeddings of sampled chunks. Each vector mixes two
    of them (``a`` uniform in [0.5, 1]) and adds isotropic Gaussian noise whose norm is
    about ``noise``; the result has the clustered, low-dimensional neighbourhoods of real
    text embeddings, which uniform random vectors lack.
    """
    rng = np.random.default_rng(seed)
    pool = np.ascontiguousarray(pool, dtype=np.float32)
    m, dim = pool.shape
    out = np.empty((n, dim), dtype=np.float32)
    for a in range(0, n, 65536):
        k = min(65536, n - a)
        i = rng.integers(0, m, size=k)
        j = rng.integers(0, m, size=k)
        w = rng.uniform(0.5, 1.0, size=(k, 1)).astype(np.float32)
        block = w * pool[i] + (1 - w) * pool[j]
        block += rng.standard_normal((k, dim), dtype=np.float32) * np.float32(noise / np.sqrt(dim))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[a : a + k] = block
    return out
