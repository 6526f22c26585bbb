"""Narrowing a question to some of the documents: chosen files, a date range, uploads only.

    narrow = SourceFilter.parse(sources=["seeds/000_x.txt"], since="2025-01", scope="all")
    bot.ask("How many hotline calls were made?", narrow=narrow)

The filter becomes the list of allowed ``source`` paths, which retrieval passes to the
store's source-filtered search (dense and BM25 alike), so a filtered question can only
cite allowed documents. With a date bound, a document of unknown date is left out
(nothing says it is in the range). ``YYYY`` and ``YYYY-MM`` bounds cover the whole year
or month: ``since="2025-03"`` keeps March 2025 on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.config import Config
from rag.errors import QueryError
from rag.types import Document

SCOPES = ("all", "uploaded", "bundled")
_BOUND = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


@dataclass(frozen=True)
class SourceFilter:
    """Which documents a question may use (empty fields: no restriction)."""

    sources: tuple[str, ...] = ()
    since: str = ""  # ISO YYYY, YYYY-MM or YYYY-MM-DD, inclusive
    until: str = ""
    scope: str = "all"  # all | uploaded | bundled

    @classmethod
    def parse(
        cls,
        sources: Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        scope: str | None = None,
    ) -> SourceFilter:
        """A checked filter; :class:`QueryError` names a bad bound or scope."""
        for name, bound in (("since", since), ("until", until)):
            if bound and not _BOUND.fullmatch(bound.strip()):
                raise QueryError(
                    f"{name} must be a date like 2025, 2025-03 or 2025-03-14, not {bound!r}"
                )
        if scope and scope not in SCOPES:
            raise QueryError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        picked = tuple(dict.fromkeys(s.strip() for s in sources or () if s and s.strip()))
        return cls(picked, (since or "").strip(), (until or "").strip(), scope or "all")

    @property
    def active(self) -> bool:
        return bool(self.sources or self.since or self.until or self.scope != "all")

    def select(self, docs: Sequence[Document], upload_prefix: str) -> list[str] | None:
        """The allowed sources among ``docs`` (None: no restriction)."""
        if not self.active:
            return None
        wanted = set(self.sources)
        prefix = upload_prefix.rstrip("/") + "/"
        out = []
        for d in docs:
            if wanted and d.source not in wanted:
                continue
            uploaded = d.source.startswith(prefix)
            if (self.scope == "uploaded" and not uploaded) or (
                self.scope == "bundled" and uploaded
            ):
                continue
            if (self.since or self.until) and not self._in_range(d.date):
                continue
            out.append(d.source)
        return out

    def _in_range(self, date: str) -> bool:
        if not date:
            return False
        first, last = _span(date)
        lo = _span(self.since)[0] if self.since else ""
        hi = _span(self.until)[1] if self.until else "9999"
        return last >= lo and first <= hi

    def describe(self) -> str:
        """The filter in words, for notes ("sources: a.txt; since 2025-03; uploaded only")."""
        parts = []
        if self.sources:
            parts.append("sources: " + ", ".join(self.sources))
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.scope != "all":
            parts.append(f"{self.scope} documents only")
        return "; ".join(parts)


def allowed_sources(
    narrow: SourceFilter | None, docs: Sequence[Document], config: Config
) -> list[str] | None:
    """The sources ``narrow`` allows among the indexed ``docs`` (None: all of them)."""
    if narrow is None or not narrow.active:
        return None
    from rag.ingest.readers import relative_source

    return narrow.select(docs, relative_source(config.upload_path, config.root))


def _span(date: str) -> tuple[str, str]:
    """The first and last day an ISO date, month or year covers, as comparable strings."""
    if len(date) == 4:
        return f"{date}-01-01", f"{date}-12-31"
    if len(date) == 7:
        return f"{date}-01", f"{date}-31"
    return date, date
