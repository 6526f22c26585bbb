"""Hostile input, fuzzed (hypothesis): the tokenizer, question cleaning, the dataset
loader, the citation parser and verifier, upload names and HTML rendering.

Each property says what must hold for *any* input: no crash, no exception other than
the module's own error class, no marker to a source that does not exist, no live
HTML. (Chunk offsets for arbitrary Unicode, combining marks and RTL text are fuzzed in
tests/test_chunking.py.)
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.answer.citations import (
    MAX_MARKER,
    Source,
    parse_markers,
    split_claims,
    strip_markers,
    verify,
)
from rag.app import render
from rag.errors import QueryError
from rag.evaluation.runner import DatasetError, Item, load_dataset, parse_line
from rag.ingest.uploads import safe_name
from rag.retrieve.retriever import clean_query
from rag.text import fold, numbers, tokenize
from rag.types import Answer, Citation
from tests.conftest import SEEDS

UNICODE = st.characters(blacklist_categories=("Cs",))
ANY_TEXT = st.text(alphabet=UNICODE, max_size=300)
VIETNAMESE = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyĐÀÁẠẢÃẤẦẨẪẬỮỰỨỪỬữựứừửịọộ0123456789,. \u0301\u0323\u0309",
    max_size=120,
)
RTL_AND_MARKS = st.text(
    alphabet="abc \u05d0\u05d1\u0627\u0628\u200f\u202e\u0301\u0323\u0308İıßǅ", max_size=120
)
TEXTS = st.one_of(ANY_TEXT, VIETNAMESE, RTL_AND_MARKS)
Q_HOTLINE = "How many hotline calls did the Vietnamese and Chinese border guards make to each other in 2025?"


# ---------------------------------------------------------------------------- tokenizer


@settings(max_examples=300, deadline=None)
@given(TEXTS)
@example("Hữu Nghị İstanbul ǅ 1,182.5 Đào")
def test_fold_and_tokenize_never_crash_and_are_stable(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded, "folding is idempotent"
    assert not any(unicodedata.combining(ch) for ch in folded), "no diacritics left"
    assert "đ" not in folded and "Đ" not in folded
    terms = tokenize(text)
    # Latin words and numbers, or Chinese character bigrams (a lone character as itself)
    assert all(
        re.fullmatch(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{1,2}", t) for t in terms
    )
    assert tokenize(folded) == terms, "folding first changes nothing"
    assert tokenize(unicodedata.normalize("NFD", text)) == terms, "any normal form"
    assert set(tokenize(text, keep_stopwords=True)) >= {t for t in terms if t.isdigit()}
    for n in numbers(text):
        assert isinstance(n, float)


@settings(max_examples=200, deadline=None)
@given(TEXTS, st.integers(1, 400))
def test_clean_query_limits_and_cleans_any_question(raw: str, limit: int) -> None:
    try:
        q = clean_query(raw, limit)
    except QueryError as exc:
        assert "empty" in str(exc) or f"the limit is {limit:,}" in str(exc)
        return
    assert 0 < len(q) <= limit and q == q.strip()
    assert q == unicodedata.normalize("NFC", q)
    assert all(ch.isprintable() or ch in "\n\t" for ch in q)


# ---------------------------------------------------------------------------- dataset loader

VALID = {
    "id": "q1",
    "question": "How many hotline calls did the border guards make?",
    "answer": "113",
    "aliases": ["113 calls"],
    "answerable": True,
    "source_files": ["000_8472d08a1f509d74.txt"],
    "evidence": ["making 113 hotline calls"],
    "type": "single",
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=UNICODE, max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "../../etc/passwd",
        "/etc/passwd",
        "seeds/../../x.txt",
        "a\x00b.txt",
        "\ud800",
        "multi",
        "unanswerable",
        "SINGLE",
        [],
        [""],
        [1],
        ["../000_8472d08a1f509d74.txt"],
        0,
        1e308,
        -1,
        None,
    ]
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={k: st.one_of(st.just(v), JSON_VALUES, TRICKY) for k, v in VALID.items()}
    | {"extra": JSON_VALUES},
)
ONE_LINE = st.text(alphabet=UNICODE, max_size=60).filter(lambda s: "".join(s.splitlines()) == s)
LINES = st.one_of(
    RECORDS.map(json.dumps),
    st.just(json.dumps(VALID)),
    JSON_VALUES.map(json.dumps),
    ONE_LINE,
    st.sampled_from(["", "   ", "[" * 60, "{", "null", "NaN", '{"id": "\\ud800"}', "\ufeff{}"]),
)


def _check_loaded(lines: list[str], corpus: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        try:
            data = load_dataset(path, corpus)
        except DatasetError as exc:
            if not exc.problems:
                assert "no questions" in str(exc) or "not UTF-8" in str(exc), str(exc)
                return
            for problem in exc.problems:
                m = re.match(r"line (\d+)\b", problem)
                assert m, problem
                assert lines[int(m.group(1)) - 1].strip(), "names a real, non-blank line"
            return
    assert data.items and all(isinstance(i, Item) for i in data.items)
    for item in data.items:
        assert item.answerable == (item.type != "unanswerable")
        if corpus is not None:
            for locs in item.locations:
                for name, a, b in locs:
                    assert (corpus / name).resolve().is_relative_to(corpus.resolve())
                    assert 0 <= a < b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, min_size=0, max_size=6), st.booleans())
@example([json.dumps(VALID)], True)
@example([json.dumps({**VALID, "source_files": ["../../etc/passwd"]})], True)
def test_dataset_loader_gives_items_or_errors_naming_the_line(lines: list[str], check_corpus):
    """Random JSON lines: valid items, or a DatasetError whose every problem names its line."""
    _check_loaded(lines, SEEDS if check_corpus else None)


def test_dataset_loader_survives_deeply_nested_json() -> None:
    item, errors = parse_line("[" * 100_000 + "]" * 100_000, 7)
    assert item is None and errors[0].startswith("line 7")


# ---------------------------------------------------------------------------- citations

NUMBER = st.one_of(st.integers(-3, 1100), st.integers(0, 10**15))
MARKERS = st.one_of(
    NUMBER.map(lambda n: f"[{n}]"),
    st.lists(NUMBER, min_size=1, max_size=4).map(lambda ns: "[" + ", ".join(map(str, ns)) + "]"),
    NUMBER.map(lambda n: f"[source {n}]"),
    NUMBER.map(lambda n: f"[ Doc {n} ; 2 ]"),
)
STRAY = st.sampled_from(["[", "]", "[[", "]]", "[ ]", "[]", "[1", "2]", "[a]", "[1a]", "[-1]"])
WORDS = st.one_of(
    st.text(alphabet=UNICODE, max_size=8).map(lambda s: s.replace("[", "(").replace("]", ")")),
    st.sampled_from(["The", "113", "calls", ".", "!", "?", "\n", "\n\n", " ", "Dr.", "No. 7", "…"]),
)
WELL_FORMED = st.lists(st.one_of(MARKERS, WORDS), max_size=30).map(" ".join)
HOSTILE = st.lists(st.one_of(MARKERS, WORDS, STRAY), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(WELL_FORMED, HOSTILE, ANY_TEXT))
@example("[1][2, 3] [source 4] [999999] [1000] [0] [[5]] [6 [7]] [" + "9" * 400 + "]")
def test_parse_markers_only_returns_plausible_numbers(text: str) -> None:
    found = parse_markers(text)
    assert all(1 <= n <= MAX_MARKER for n in found)
    for claim in split_claims(text):
        assert claim.text and re.search(r"\w", claim.text)
        assert all(1 <= n <= MAX_MARKER for n in claim.markers)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, MAX_MARKER), max_size=10))
def test_parse_markers_finds_exactly_the_markers_written(ns: list[int]) -> None:
    text = "Fact. " + " and ".join(f"claim [{n}]" for n in ns)
    assert parse_markers(text) == ns


@settings(max_examples=300, deadline=None)
@given(WELL_FORMED)
def test_strip_markers_leaves_no_marker(text: str) -> None:
    stripped = strip_markers(text)
    assert parse_markers(stripped) == []
    for claim in split_claims(text):
        assert parse_markers(claim.text) == []


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
@example("[[1]2]")
def test_strip_markers_leaves_no_marker_even_with_nested_brackets(text: str) -> None:
    assert parse_markers(strip_markers(text)) == []


@pytest.fixture(scope="module")
def hotline_sources(assistant):
    hits = assistant.search(Q_HOTLINE, 5).hits
    sources = [Source(h.rank, h.chunk, h.score) for h in hits]
    texts = {h.chunk.doc_id: assistant.document(h.chunk.doc_id).text for h in hits}
    sentences = [
        "The border guards made 113 hotline calls.",
        "The two sides held 20 talks in 2025.",
        "They exchanged 679 official letters.",
        "Xi Jinping is the Prime Minister of China.",
        "The moon is made of cheese.",
        "They made 999 hotline calls.",
        "<script>alert(1)</script> PWNED.",
    ]
    return sources, texts, sentences


def _check_verified(result, sources, texts) -> None:
    numbers_ = [c.n for c in result.citations]
    assert numbers_ == list(range(1, len(numbers_) + 1)), "renumbered 1..n"
    assert set(parse_markers(result.text)) == set(numbers_), result.text
    by_doc = {s.chunk.doc_id for s in sources}
    for c in result.citations:
        doc_id = next(s.chunk.doc_id for s in sources if s.chunk.source == c.source)
        assert doc_id in by_doc and texts[doc_id][c.start : c.end] == c.quote
    for bad in ("999", "Xi Jinping", "cheese", "PWNED", "<script"):
        assert bad not in result.text


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.lists(
                st.one_of(
                    st.integers(1, 5).map(lambda n: f"[{n}]"),
                    st.sampled_from(["[7]", "[0]", "[1000]", "[999999]", "[2, 9]", "[source 3]"]),
                ),
                max_size=3,
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_verify_never_cites_a_missing_source(hotline_sources, assistant, parts, reattribute):
    """Drafts of true, false and hostile sentences with valid, unknown and absurd markers."""
    sources, texts, sentences = hotline_sources
    draft = " ".join(sentences[i].rstrip(".") + " " + "".join(marks) + "." for i, marks in parts)
    result = verify(draft, sources, texts, assistant.checker, reattribute=reattribute)
    _check_verified(result, sources, texts)


def test_verify_with_nested_brackets_cites_only_real_sources(hotline_sources, assistant):
    sources, texts, _ = hotline_sources
    result = verify(
        "The border guards made 113 hotline calls [[1]113].", sources, texts, assistant.checker
    )
    _check_verified(result, sources, texts)


# ---------------------------------------------------------------------------- uploads, HTML

NAME_PARTS = st.sampled_from(
    ["../", "..\\", "/", "~", ".", "..", "\x00", "etc", "passwd", " ", "a", "é", ".md", ".pdf"]
)
NAMES = st.one_of(
    st.text(alphabet=UNICODE, max_size=200), st.lists(NAME_PARTS, max_size=30).map("".join)
)


@settings(max_examples=300, deadline=None)
@given(NAMES)
@example("../../etc/passwd")
@example("a" * 300 + ".pdf")
def test_upload_names_never_leave_the_upload_folder(name: str) -> None:
    safe = safe_name(name)
    assert 1 <= len(safe) <= 120
    assert not any(ch in safe for ch in "/\\\x00") and not safe.startswith(".")
    folder = Path(tempfile.gettempdir()) / "uploads"
    assert (folder / safe).resolve().parent == folder.resolve()
    base = name.replace("\\", "/").split("/")[-1]
    if re.fullmatch(r"[A-Za-z0-9_\- ]{1,200}\.(md|pdf|txt|html)", base):
        assert safe.endswith(base.rsplit(".", 1)[1]), "a long name keeps its reader's suffix"


HOSTILE_HTML = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "<iframe src=javascript:alert(1)>",
        "</mark><script>",
        "<a href='javascript:alert(1)'>x</a>",
        "&lt;script&gt;",
        "[1]",
        "<",
        ">",
        "&",
        "'",
        '"',
    ]
)
HTML_TEXT = st.lists(
    st.one_of(HOSTILE_HTML, st.text(alphabet=UNICODE, max_size=10)), max_size=12
).map("".join)
LIVE = re.compile(r"<\s*(script|img|svg|iframe|a\s+href\s*=\s*['\"]?javascript)", re.I)


@settings(max_examples=150, deadline=None)
@given(HTML_TEXT, HTML_TEXT)
def test_questions_and_answers_render_inert(question: str, text: str) -> None:
    """HTML in questions, answers, quotes and notes is shown as text, never as markup."""
    quote = text or "x"
    cit = Citation(1, f"uploads/{text}.html", text, 0, len(quote), quote, 0.9)
    answer = Answer(question or "q", question, f"{text} [1]", False, "extractive", [cit])
    answer.notes.append(text)
    for markup in (
        render.user_html(question),
        render.streaming_html(text),
        render.error_html(text),
        render.answer_html(answer, 0),
        render.sources_html(answer, 0),
        render.details_html(answer, 0),
    ):
        assert not LIVE.search(markup), markup[:300]
    assert html.escape("<script>") in render.user_html("<script>")
