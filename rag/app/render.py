"""HTML for the chat app: answers with clickable citation markers, sources, details.

Every piece of document, question or answer text shown in the page passes through
:func:`esc` (``html.escape``), so a document that contains ``<script>`` or
``<img onerror=...>`` renders as text. Only the markup written here is live.

Clickable things are plain links with fragment addresses that the page's click
handler (:data:`CLICK_JS`) turns into an event for the app instead of navigating:

* ``#rag-cite-<turn>-<n>`` -- citation ``[n]`` of answer number ``turn`` (0-based);
* ``#rag-passage-<turn>-<rank>`` -- retrieved passage ``rank`` of answer ``turn``.

Highlighted spans are ``<mark class="rag-quote">`` elements whose text is exactly the
citation quote (``document.text[start:end]``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from rag import prompts
from rag.types import Answer, Citation, Document, Hit

MARKER = re.compile(r"\[(\d+)\]")
SELECT = re.compile(r"^(cite|passage)-(\d+)-(\d+)(?:\|.*)?$")
CONTEXT_CHARS = 700  # at most this much paragraph text is shown on each side of a quote
SNIPPET_CHARS = 180
TIMING_ORDER = ("condense", "retrieve", "generate", "verify", "total")


def esc(text: object) -> str:
    """HTML-escape any text (quotes included) for element content and attributes."""
    return html.escape("" if text is None else str(text), quote=True)


def parse_selection(value: str) -> tuple[str, int, int] | None:
    """``"cite-2-1|<nonce>"`` -> ``("cite", 2, 1)``; None for anything else."""
    m = SELECT.match((value or "").strip())
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A one-line preview of ``text``, cut at a word boundary (plain text, not escaped)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def page_of(doc: Document | None, offset: int) -> int | None:
    """The page holding character ``offset`` of a paged document (PDF), else None."""
    page = None
    for number, start in getattr(doc, "pages", ()) or ():
        if start <= offset:
            page = number
        else:
            break
    return page


def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start and end of the paragraph(s) (blank-line separated) around ``text[start:end]``."""
    a = text.rfind("\n\n", 0, start)
    b = text.find("\n\n", end)
    return (0 if a < 0 else a + 2), (len(text) if b < 0 else b)


def _clip_left(text: str) -> str:
    if len(text) <= CONTEXT_CHARS:
        return text
    cut = text[-CONTEXT_CHARS:]
    return "…" + cut[cut.find(" ") + 1 :] if " " in cut else "…" + cut


def _clip_right(text: str) -> str:
    if len(text) <= CONTEXT_CHARS:
        return text
    cut = text[:CONTEXT_CHARS]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def _span(doc: Document | None, start: int, end: int, quote: str) -> tuple[int, int] | None:
    """Where ``quote`` is in ``doc.text``: at ``start:end`` or, if the index moved, found."""
    if doc is None:
        return None
    if doc.text[start:end] == quote:
        return start, end
    at = doc.text.find(quote) if quote else -1
    return (at, at + len(quote)) if at >= 0 else None


def _lines(text: str) -> str:
    return esc(text).replace("\n", "<br>")


# ---------------------------------------------------------------------------- chat messages


def user_html(question: str) -> str:
    """A user message, escaped."""
    return f'<div class="rag-user">{_lines(question)}</div>'


def pending_html() -> str:
    return '<div class="rag-answer rag-pending"><span class="rag-dots">Searching the articles</span></div>'


def streaming_html(text: str) -> str:
    """The answer while it streams in (markers are not clickable until it is verified)."""
    return (
        '<div class="rag-answer rag-streaming"><div class="rag-answer-text">'
        f'{_lines(text)}<span class="rag-cursor">▍</span></div></div>'
    )


def error_html(message: str) -> str:
    return f'<div class="rag-answer rag-error"><div class="rag-answer-text">⚠️ {_lines(message)}</div></div>'


def cite_href(turn: int, n: int) -> str:
    return f"#rag-cite-{turn}-{n}"


def passage_href(turn: int, rank: int) -> str:
    return f"#rag-passage-{turn}-{rank}"


def marked_text(text: str, citations: Sequence[Citation], turn: int) -> str:
    """Escaped answer text with each known ``[n]`` marker turned into a citation link."""
    known = {c.n: c for c in citations}
    out: list[str] = []
    pos = 0
    for m in MARKER.finditer(text):
        n = int(m.group(1))
        if n not in known:
            continue
        out.append(_lines(text[pos : m.start()]))
        c = known[n]
        out.append(
            f'<a class="rag-cite" href="{cite_href(turn, n)}" '
            f'title="{esc(c.doc_title)} — {esc(snippet(c.quote, 120))}">[{n}]</a>'
        )
        pos = m.end()
    out.append(_lines(text[pos:]))
    return "".join(out)


def answer_html(answer: Answer, turn: int, closest: int = 3) -> str:
    """A finished answer: text with clickable markers, a sources line, notes.

    When the answer abstains, the "not in the sources" message comes with the
    ``closest`` best passages, each a link that opens it in the sources panel.
    """
    parts = [
        '<div class="rag-answer">',
        f'<div class="rag-answer-text">{marked_text(answer.answer, answer.citations, turn)}</div>',
    ]
    if answer.abstained and answer.passages:
        items = "".join(
            f'<li><a class="rag-passage-link" href="{passage_href(turn, h.rank)}">'
            f"{esc(h.chunk.doc_title)}</a> "
            f'<span class="rag-file">{esc(h.chunk.source)}</span>'
            f'<div class="rag-snippet">{esc(snippet(h.chunk.text))}</div></li>'
            for h in answer.passages[:closest]
        )
        parts.append(
            f'<div class="rag-closest"><div class="rag-closest-title">'
            f"{esc(prompts.CLOSEST_PASSAGES)}</div><ol>{items}</ol></div>"
        )
    if answer.citations:
        cards = "".join(
            f'<li><a class="rag-cite" href="{cite_href(turn, c.n)}">[{c.n}]</a> '
            f"{esc(c.doc_title)} "
            f'<span class="rag-file">{esc(c.source)}</span></li>'
            for c in _unique_sources(answer.citations)
        )
        parts.append(f'<ul class="rag-sources-line">{cards}</ul>')
    if answer.notes:
        notes = "".join(f"<li>{esc(n)}</li>" for n in answer.notes)
        parts.append(f'<ul class="rag-notes">{notes}</ul>')
    parts.append("</div>")
    return "".join(parts)


def _unique_sources(citations: Iterable[Citation]) -> list[Citation]:
    """The first citation of each (number); numbers are already unique per answer."""
    seen: set[int] = set()
    out = []
    for c in citations:
        if c.n not in seen:
            seen.add(c.n)
            out.append(c)
    return out


Failed = tuple[int, str, str]  # (finished answers before it, question, error message)


def chat_messages(turns: Sequence[Answer], failed: Sequence[Failed] = ()) -> list[dict[str, str]]:
    """The chatbot's messages (HTML content): the finished answers, and the questions that
    failed (with their error) where they were asked, so an error stays on screen."""
    messages: list[dict[str, str]] = []
    for turn, content in _conversation(turns, failed):
        question, html = (
            (content.question, answer_html(content, turn))
            if isinstance(content, Answer)
            else (content[1], error_html(content[2]))
        )
        messages.append({"role": "user", "content": user_html(question)})
        messages.append({"role": "assistant", "content": html})
    return messages


def message_turn(turns: Sequence[Answer], failed: Sequence[Failed], index: int) -> int | None:
    """The finished answer shown at chatbot message ``index``; None for an error or a question."""
    if index % 2 == 0:
        return None
    pairs = list(_conversation(turns, failed))
    if index // 2 >= len(pairs):
        return None
    turn, content = pairs[index // 2]
    return turn if isinstance(content, Answer) else None


def _conversation(
    turns: Sequence[Answer], failed: Sequence[Failed]
) -> Iterator[tuple[int, Answer | Failed]]:
    """(answer number, answer or failure) in the order they were asked."""
    for i in range(len(turns) + 1):
        for f in failed:
            if f[0] == i:
                yield i, f
        if i < len(turns):
            yield i, turns[i]


# ---------------------------------------------------------------------------- sources panel


def empty_sources_html() -> str:
    return (
        '<div class="rag-sources rag-empty">'
        '<p><b>Sources</b> appear here. Click a <span class="rag-cite-demo">[1]</span> marker '
        "in an answer, or a source card, to see the quoted passage highlighted in its "
        "article.</p></div>"
    )


def show_date(iso: str) -> str:
    """A publication date for people: "2026-03-03" -> "3 Mar 2026", "2025-11" -> "Nov 2025",
    "" -> "" (unknown dates are left out of cards)."""
    parts = (iso or "").split("-")
    try:
        year = int(parts[0])
        month = prompts.MONTH_ABBR[int(parts[1]) - 1] if len(parts) > 1 else ""
        day = int(parts[2]) if len(parts) > 2 else 0
    except (ValueError, IndexError):
        return iso or ""
    return " ".join(str(p) for p in (day or "", month, year) if p)


def _date_badge(source: str, dates: Mapping[str, str] | None) -> str:
    shown = show_date((dates or {}).get(source, ""))
    return f'<span class="rag-card-date">{esc(shown)}</span>' if shown else ""


def sources_html(
    answer: Answer,
    turn: int,
    *,
    selected: tuple[str, int] | None = None,
    document: Document | None = None,
    dates: Mapping[str, str] | None = None,
) -> str:
    """The sources panel for one answer: source cards, then the selected source.

    ``selected`` is ``("cite", n)`` or ``("passage", rank)``; ``document`` is the
    document it points into (None if it is no longer indexed); ``dates`` maps a
    source to its publication date (ISO), shown on its card when known.
    """
    head = (
        f'<div class="rag-sources-head">Sources of answer {turn + 1}: '
        f"<q>{esc(snippet(answer.question, 140))}</q></div>"
    )
    cards: list[str] = []
    kind, num = selected or ("", 0)
    if answer.citations:
        for c in answer.citations:
            sel = " rag-selected" if kind == "cite" and num == c.n else ""
            cards.append(
                f'<a class="rag-card{sel}" href="{cite_href(turn, c.n)}">'
                f'<span class="rag-card-n">[{c.n}]</span>'
                f'<span class="rag-card-title">{esc(c.doc_title)}</span>'
                f"{_date_badge(c.source, dates)}"
                f'<span class="rag-file">{esc(c.source)}</span>'
                f'<span class="rag-card-quote">“{esc(snippet(c.quote, 220))}”</span></a>'
            )
    else:
        cards.append(
            '<div class="rag-note">No source supports an answer. '
            f"{esc(prompts.CLOSEST_PASSAGES)}</div>"
        )
        for h in answer.passages:
            sel = " rag-selected" if kind == "passage" and num == h.rank else ""
            cards.append(
                f'<a class="rag-card{sel}" href="{passage_href(turn, h.rank)}">'
                f'<span class="rag-card-n">#{h.rank}</span>'
                f'<span class="rag-card-title">{esc(h.chunk.doc_title)}</span>'
                f"{_date_badge(h.chunk.source, dates)}"
                f'<span class="rag-file">{esc(h.chunk.source)}</span>'
                f'<span class="rag-card-quote">{esc(snippet(h.chunk.text, 220))}</span></a>'
            )
    view = ""
    if kind == "cite":
        cit = next((c for c in answer.citations if c.n == num), None)
        if cit is not None:
            view = quote_view(
                title=cit.doc_title,
                source=cit.source,
                start=cit.start,
                end=cit.end,
                quote=cit.quote,
                document=document,
                label=f"[{cit.n}]",
            )
    elif kind == "passage":
        hit = next((h for h in answer.passages if h.rank == num), None)
        if hit is not None:
            view = quote_view(
                title=hit.chunk.doc_title,
                source=hit.chunk.source,
                start=hit.chunk.start,
                end=hit.chunk.end,
                quote=hit.chunk.text,
                document=document,
                label=f"passage #{hit.rank}",
                mark_class="rag-passage-mark",
            )
    return (
        f'<div class="rag-sources">{head}<div class="rag-cards">{"".join(cards)}</div>{view}</div>'
    )


def quote_view(
    *,
    title: str,
    source: str,
    start: int,
    end: int,
    quote: str,
    document: Document | None,
    label: str = "",
    mark_class: str = "rag-quote",
) -> str:
    """The cited article: title, file, the paragraph with the span marked, the full text.

    The ``<mark class="rag-quote">`` holds exactly ``quote``; the full article (in a
    ``<details>`` that the page scrolls to the span when opened) marks it again with
    ``id="rag-article-quote"``.
    """
    span = _span(document, start, end, quote)
    where = [f'<span class="rag-file">{esc(source)}</span>']
    if document is not None and span is not None:
        page = page_of(document, span[0])
        if page is not None:
            where.append(f'<span class="rag-page">page {page}</span>')
        where.append(f'<span class="rag-offsets">characters {span[0]}–{span[1]}</span>')
    header = (
        f'<div class="rag-view-head"><span class="rag-view-label">{esc(label)}</span> '
        f'<span class="rag-view-title">{esc(title)}</span></div>'
        f'<div class="rag-view-meta">{" · ".join(where)}</div>'
    )
    mark = f'<mark class="{mark_class}">{esc(quote)}</mark>'
    if document is None or span is None:
        missing = (
            "This document is no longer in the index; the quote is shown on its own."
            if document is None
            else "The quote could not be located in the indexed text."
        )
        return (
            f'<div class="rag-view">{header}<blockquote class="rag-paragraph">{mark}</blockquote>'
            f'<div class="rag-note">{esc(missing)}</div></div>'
        )
    text = document.text
    a, b = span
    ps, pe = paragraph_bounds(text, a, b)
    paragraph = (
        f'<blockquote class="rag-paragraph">{esc(_clip_left(text[ps:a]))}{mark}'
        f"{esc(_clip_right(text[b:pe]))}</blockquote>"
    )
    article = (
        f'<details class="rag-full"><summary>Open the full article</summary>'
        f'<div class="rag-article">{esc(text[:a])}'
        f'<mark class="rag-article-quote" id="rag-article-quote">{esc(text[a:b])}</mark>'
        f"{esc(text[b:])}</div></details>"
    )
    return f'<div class="rag-view">{header}{paragraph}{article}</div>'


# ---------------------------------------------------------------------------- details


def details_html(answer: Answer, turn: int) -> str:
    """The standalone rewrite, retrieved passages with their scores, and timings."""
    rewrite = (
        esc(answer.standalone_question)
        if answer.standalone_question != answer.question
        else f"{esc(answer.standalone_question)} <i>(unchanged: not a follow-up)</i>"
    )
    rows = "".join(_passage_row(h, turn) for h in answer.passages)
    timings = "".join(
        f"<tr><td>{esc(k)}</td><td>{v:,.1f} ms</td></tr>"
        for k, v in sorted(
            answer.timings_ms.items(),
            key=lambda kv: (
                TIMING_ORDER.index(kv[0]) if kv[0] in TIMING_ORDER else len(TIMING_ORDER)
            ),
        )
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in answer.notes)
    return (
        '<div class="rag-details">'
        f'<div class="rag-kv"><b>Answer</b> {turn + 1} · backend <code>{esc(answer.backend)}</code>'
        f"{' · abstained' if answer.abstained else ''}</div>"
        f'<div class="rag-kv"><b>Question</b>: {esc(answer.question)}</div>'
        f'<div class="rag-kv rag-rewrite"><b>Standalone rewrite</b>: {rewrite}</div>'
        + (f'<ul class="rag-notes">{notes}</ul>' if notes else "")
        + '<table class="rag-passages"><thead><tr><th>#</th><th>Passage</th>'
        '<th title="cosine similarity">Dense</th><th>BM25</th>'
        '<th title="reciprocal rank fusion">Fused</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        f'<table class="rag-timings"><thead><tr><th>Stage</th><th>Time</th></tr></thead>'
        f"<tbody>{timings}</tbody></table></div>"
    )


def _passage_row(h: Hit, turn: int) -> str:
    c = h.chunk
    return (
        f"<tr><td>{h.rank}</td><td>"
        f'<a class="rag-passage-link" href="{passage_href(turn, h.rank)}">{esc(c.doc_title)}</a>'
        f' <span class="rag-file">{esc(c.source)} [{c.start}:{c.end}]</span>'
        f'<div class="rag-snippet">{esc(snippet(c.text))}</div></td>'
        f"<td>{h.dense_score:.3f}</td><td>{h.bm25_score:.3f}</td><td>{h.score:.4f}</td></tr>"
    )


def empty_details_html() -> str:
    return '<div class="rag-details rag-empty">Details of the last answer appear here.</div>'


# ---------------------------------------------------------------------------- documents


def documents_html(
    documents: Sequence[Document],
    uploaded: Iterable[str] = (),
    skipped: Mapping[str, str] | None = None,
) -> str:
    """The indexed documents as a table (uploaded ones flagged: those can be removed),
    then the files that are *not* indexed (``skipped``: source -> why), so a truncated
    or duplicate file is visible instead of silently missing."""
    up = set(uploaded)
    badge = ' <span class="rag-badge">uploaded</span>'
    rows = "".join(
        f'<tr><td>{esc(d.title)}</td><td><span class="rag-file">{esc(d.source)}</span>'
        f"{badge if d.source in up else ''}</td>"
        f"<td>{esc(show_date(d.date)) or 'unknown'}</td>"
        f"<td>{d.length:,}</td><td>{len(d.pages) or ''}</td></tr>"
        for d in sorted(documents, key=lambda d: d.source)
    )
    rows += "".join(
        f'<tr class="rag-skipped"><td><b>not indexed</b>: {esc(why)}</td>'
        f'<td><span class="rag-file">{esc(source)}</span>{badge if source in up else ""}</td>'
        "<td></td><td></td><td></td></tr>"
        for source, why in sorted((skipped or {}).items())
    )
    not_indexed = f", {len(skipped)} file(s) not indexed" if skipped else ""
    return (
        f'<div class="rag-docs"><div class="rag-kv">{len(documents)} document(s) indexed'
        f"{not_indexed}</div>"
        "<table><thead><tr><th>Title</th><th>File</th><th>Date</th><th>Characters</th>"
        "<th>Pages</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>)\]]*[^\s'\"<>)\].,:;]")
_ABS_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"<>:;,()]+/)+([^\s/'\"<>:;,()]*)")


def redact(text: object, root: str | None = None, secrets: Iterable[str] = ()) -> str:
    """``text`` as a client may see it: no configured value, URL or server path.

    Each of ``secrets`` (configured URLs, keys, model paths) and any URL becomes
    :data:`~rag.prompts.SERVER_ADDRESS`; paths under ``root`` become relative to it
    ("index/vectors-3.faiss"), any other absolute path its last part ("form.pdf").
    Error messages and notes pass through this before they reach the page or the API.
    """
    out = "" if text is None else str(text)
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        out = out.replace(secret, prompts.SERVER_ADDRESS)
    out = _URL.sub(prompts.SERVER_ADDRESS, out)
    base = (root or "").rstrip("/")
    if base.startswith("/"):  # an absolute root only: "." would match every dot
        out = re.sub(re.escape(base) + "/", "", out)
        out = re.sub(re.escape(base) + r"(?![\w.-])", ".", out)
    return _ABS_PATH.sub(lambda m: m.group(1) or "<folder>", out)


# ---------------------------------------------------------------------------- page assets
