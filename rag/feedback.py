"""User ratings of answers, appended as JSON lines for later evaluation.

Each line of ``config.feedback_path`` (default ``eval/feedback.jsonl``) is one
self-contained record::

    {"id": "...", "time": "2025-...Z", "rating": "up", "comment": "",
     "question": "...", "standalone_question": "...", "answer": "...",
     "abstained": false, "backend": "extractive",
     "citations": [{"n": 1, "source": "...", "start": 0, "end": 10, "quote": "..."}],
     "session": "...", "turn": 0, "replaces": null}

A later record with ``replaces`` set (e.g. the same rating with a comment added)
supersedes the record with that id.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import RagError
from .types import Answer

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 4000
_LOCK = threading.Lock()  # one writer at a time within the process (flock across processes)


def make_record(
    answer: Answer | Mapping[str, Any],
    rating: str | bool,
    comment: str = "",
    *,
    session: str = "",
    turn: int | None = None,
    replaces: str | None = None,
) -> dict[str, Any]:
    """A feedback record for ``answer`` (an :class:`Answer` or its ``to_dict()`` form).

    ``rating`` is "up"/"down" (True/False and "like"/"dislike" are accepted too).
    """
    data = answer.to_dict() if isinstance(answer, Answer) else dict(answer)
    if not str(data.get("question", "")).strip():
        raise RagError("feedback needs the answer it rates (with its question)")
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "rating": normalize_rating(rating),
        "comment": (comment or "").strip()[:MAX_COMMENT_CHARS],
        "question": data.get("question", ""),
        "standalone_question": data.get("standalone_question", data.get("question", "")),
        "answer": data.get("answer", ""),
        "abstained": bool(data.get("abstained", False)),
        "backend": data.get("backend", ""),
        "citations": [_citation(c) for c in data.get("citations") or []],
        "session": session,
        "turn": turn,
        "replaces": replaces,
    }


def normalize_rating(rating: str | bool) -> str:
    if isinstance(rating, bool):
        return "up" if rating else "down"
    r = str(rating).strip().lower()
    aliases = {"like": "up", "liked": "up", "+1": "up", "👍": "up"}
    aliases |= {"dislike": "down", "disliked": "down", "-1": "down", "👎": "down"}
    r = aliases.get(r, r)
    if r not in RATINGS:
        raise RagError(f"rating must be 'up' or 'down', not {rating!r}")
    return r


def _citation(c: Any) -> dict[str, Any]:
    d = c.to_dict() if hasattr(c, "to_dict") else dict(c)
    keys = ("n", "source", "doc_title", "start", "end", "quote")
    return {k: d.get(k) for k in keys}


def append(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record as a JSON line (creating the folder), safe under concurrency."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path, "a", encoding="utf-8") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except (ImportError, OSError):  # pragma: no cover - non-POSIX
            pass
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def save(
    path: Path,
    answer: Answer | Mapping[str, Any],
    rating: str | bool,
    comment: str = "",
    **kw: Any,
) -> dict[str, Any]:
    """Build a record (see :func:`make_record`), append it to ``path`` and return it."""
    record = make_record(answer, rating, comment, **kw)
    append(path, record)
    return record


def load(path: Path, *, latest: bool = True) -> list[dict[str, Any]]:
    """Read the records back; with ``latest``, drop records that a later one replaces."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn line from a crash; keep the rest
    if latest:
        replaced = {r.get("replaces") for r in records if r.get("replaces")}
        records = [r for r in records if r.get("id") not in replaced]
    return records
