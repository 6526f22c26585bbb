"""A document's publication date, found where the format or the text states it.

Sources, first found wins (see :func:`document_date`):

1. the format's own metadata: Markdown front matter (``date:``), HTML ``<meta>``
   (``article:published_time``, ``date``, ``dc.date``, ...) or ``<time datetime>``, PDF
   ``/CreationDate`` (read by :mod:`rag.ingest.readers`);
2. a date in the first lines of the text ("PORT ALDWICK, March 14, 2025 — ...",
   "14 March 2025", "2025-03-14", "ngày 14 tháng 3 năm 2025", "2025年3月14日").

Dates are returned as ISO ``YYYY-MM-DD`` (``YYYY-MM`` when the day is not given), or
"" when unknown. Slashed dates (3/4/2025) are ambiguous between day-first and
month-first and are not guessed.
"""

from __future__ import annotations

import re
from datetime import date

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_PATTERNS = [
    re.compile(rf"\b{_YEAR}-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)(?!\d)"),  # 2025-03-14(T...)
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I),  # March 14, 2025
    re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b", re.I),  # 14 March 2025
    re.compile(  # ngày 14 tháng 3 năm 2025
        rf"\bngày\s+{_DAY}\s+tháng\s+(?P<mnum>[01]?\d)\s*(?:năm|,)\s*{_YEAR}\b", re.I
    ),
    re.compile(rf"{_YEAR}\s*年\s*(?P<mnum>[01]?\d)\s*月\s*(?P<day>[0-3]?\d)\s*日"),  # 2025年3月14日
    re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.I),  # March 2025 (no day)
]
_FRONT_MATTER = re.compile(r"---[ \t]*\n(?P<body>.*?)\n---[ \t]*(?:\n|\Z)", re.S)  # match()ed
_FRONT_DATE = re.compile(r"^(?:date|published|pubdate|created)\s*:\s*(?P<value>.+)$", re.I | re.M)
_META = re.compile(
    r"<meta\b[^>]*?(?:name|property|itemprop)\s*=\s*[\"']?"
    r"(?:article:published_time|og:published_time|datePublished|pubdate|publish[-_]?date|"
    r"dc\.date(?:\.issued)?|dcterms\.date|date)[\"']?[^>]*>",
    re.I,
)
_CONTENT = re.compile(r"\bcontent\s*=\s*[\"']([^\"']{4,40})[\"']", re.I)
_TIME = re.compile(r"<time\b[^>]*\bdatetime\s*=\s*[\"']([^\"']{4,40})[\"']", re.I)
_PDF_DATE = re.compile(r"^D:(?P<year>\d{4})(?P<mnum>\d\d)?(?P<day>\d\d)?")


def find_date(text: str) -> str:
    """The first date stated in ``text`` as ISO (``YYYY-MM-DD`` or ``YYYY-MM``), or ""."""
    found = _first_date(text)
    return found[2] if found else ""


def _first_date(text: str) -> tuple[int, int, str] | None:
    """(start, end, ISO) of the first date in ``text``."""
    best: tuple[int, int, str] | None = None
    for pattern in _PATTERNS:
        for m in pattern.finditer(text):
            iso = _iso(m.groupdict())
            if iso:
                if best is None or m.start() < best[0]:
                    best = (m.start(), m.end(), iso)
                break
    return best


def _iso(parts: dict[str, str | None]) -> str:
    year = int(parts["year"] or 0)
    month = parts.get("mnum") or MONTHS.get((parts.get("month") or "").lower().rstrip("."))
    if not year or not month:
        return ""
    month = int(month)
    if parts.get("day") is None:
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else ""
    try:
        return date(year, month, int(parts["day"] or 0)).isoformat()
    except ValueError:  # 31 February, month 13, ...
        return ""


_CUE = re.compile(r"\b(?:published|updated|posted|dated?|issued)\b|ngày đăng|发布", re.I)
_AFTER_DATELINE = re.compile(r"\s*(?:[—–|:(-]|电|$)")


def text_date(text: str, lines: int = 4) -> str:
    """The date of an article's dateline in its first lines, or "".

    Only a date that reads as the article's own: near the start of its line and
    followed by a dash, colon, bar, parenthesis or the line's end ("PORT ALDWICK,
    March 14, 2025 — ..."), or after a word such as "Published". A date inside the
    first sentence ("The bridge closed on June 3, 2024 ...") is an event, not the
    publication date.
    """
    for line in text.lstrip().split("\n")[:lines]:
        found = _first_date(line[:200])
        if found is None:
            continue
        start, end, iso = found
        if _CUE.search(line[:start]) or (
            start <= 60 and _AFTER_DATELINE.match(line, end) and len(iso) == 10
        ):
            return iso
    return ""


def front_matter(text: str) -> tuple[str, int]:
    """Markdown/YAML front matter (``---`` ... ``---`` at the top): (its body, the offset
    where the text after it starts); ("", 0) when there is none."""
    skip = len(text) - len(text.lstrip("\ufeff"))
    m = _FRONT_MATTER.match(text, skip)
    return (m.group("body"), m.end()) if m else ("", 0)


def front_matter_field(body: str, *names: str) -> str:
    """The first of ``names`` set in a front matter ``body`` (quotes stripped), or ""."""
    for line in body.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in names:
            return value.strip().strip("\"'")
    return ""


def front_matter_date(text: str) -> str:
    """``date:`` from Markdown/YAML front matter (``---`` ... ``---`` at the top), or ""."""
    body, _ = front_matter(text)
    d = _FRONT_DATE.search(body) if body else None
    return find_date(d.group("value").strip().strip("\"'")) if d else ""


def html_date(markup: str) -> str:
    """The publication date from HTML ``<meta>`` or ``<time datetime>``, or ""."""
    for m in _META.finditer(markup):
        content = _CONTENT.search(m.group())
        found = find_date(content.group(1)) if content else ""
        if found:
            return found
    t = _TIME.search(markup)
    return find_date(t.group(1)) if t else ""


def pdf_date(raw: str | None) -> str:
    """A PDF date string (``D:20250314...``) or ISO text as ISO, or ""."""
    if not raw:
        return ""
    m = _PDF_DATE.match(str(raw))
    if m:
        return _iso({"year": m.group("year"), "mnum": m.group("mnum"), "day": m.group("day")})
    return find_date(str(raw))


def document_date(text: str, metadata_date: str = "") -> str:
    """The document's date: its format's metadata first, then its first lines."""
    return metadata_date or front_matter_date(text) or text_date(text)
