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

Only answers the server itself gave can be rated: the app keeps what it answered in an
:class:`IssuedAnswers` log (bounded) and ``/ask`` hands out an ``answer_id``; feedback
names that id and the record is built from the server's copy, so a client cannot plant
a question, answer or citation in the evaluation data. The file is bounded too: at
:data:`MAX_FILE_BYTES` it is rotated (``feedback.jsonl.1`` ... ``.{KEEP_FILES}``, the
oldest dropped), so disk use stays under ``(KEEP_FILES + 1) * MAX_FILE_BYTES``.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag import prompts
from rag.errors import RagError
from rag.types import Answer

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 4000
MAX_RECORD_BYTES = 256_000  # one line; a server answer with 20 quoted citations is ~20 kB
MAX_FILE_BYTES = 10_000_000  # then the file is rotated
KEEP_FILES = 4  # rotated files kept: feedback.jsonl.1 .. .4
MAX_ISSUED = 5000  # answers remembered for rating (the oldest are forgotten first)
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
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise RagError(prompts.COMMENT_TOO_LONG.format(n=len(comment), limit=MAX_COMMENT_CHARS))
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "rating": normalize_rating(rating),
        "comment": comment,
        "question": data.get("question", ""),
        "standalone_question": data.get("standalone_question", data.get("question", "")),
        "answer": data.get("answer", ""),
        "abstained": bool(data.get("abstained", False)),
        "backend": data.get("backend", ""),
        "citations": [_citation(c) for c in data.get("citations") or []],
        "session": session,
        "turn": turn,
        "replaces": replaces,
        **({"answer_id": data["answer_id"]} if data.get("answer_id") else {}),
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


def append(
    path: Path,
    record: Mapping[str, Any],
    *,
    max_bytes: int = MAX_FILE_BYTES,
    keep: int = KEEP_FILES,
) -> None:
    """Append one record as a JSON line (creating the folder), safe under concurrency.

    A line over :data:`MAX_RECORD_BYTES` is refused; a file that would grow past
    ``max_bytes`` is rotated first (see the module docstring).
    """
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    if len(line) > MAX_RECORD_BYTES:
        raise RagError(
            f"the feedback record is {len(line):,} bytes; the limit is {MAX_RECORD_BYTES:,}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path.with_name(f".{path.name}.lock"), "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)  # across processes: rotation renames the file
        except (ImportError, OSError):  # pragma: no cover - non-POSIX
            pass
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(line) > max_bytes:
            _rotate(path, keep)
        with open(path, "ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def _rotate(path: Path, keep: int) -> None:
    """feedback.jsonl -> .1 -> .2 ... -> .keep (the oldest is dropped)."""
    for n in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if n == keep:
            older.unlink(missing_ok=True)
        newer = path if n == 1 else path.with_name(f"{path.name}.{n - 1}")
        if newer.exists():
            os.replace(newer, older)
    if keep <= 0:
        path.unlink(missing_ok=True)


def rotated_files(path: Path) -> list[Path]:
    """``path`` and its rotated predecessors that exist, oldest first."""
    older = sorted(
        (p for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit()),
        key=lambda p: -int(p.suffix[1:]),
    )
    return [*older, *([path] if path.exists() else [])]


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
    """Read the records back (rotated files too, oldest first); with ``latest``, drop
    records that a later one replaces.

    Lines end at "\\n" only: JSON keeps U+2028, U+2029 and U+0085 unescaped inside
    strings, and :meth:`str.splitlines` would cut a record there.
    """
    records = []
    for file in rotated_files(path):
        for line in file.read_text(encoding="utf-8", errors="replace").split("\n"):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a torn line from a crash; keep the rest
    if latest:
        replaced = {r.get("replaces") for r in records if r.get("replaces")}
        records = [r for r in records if r.get("id") not in replaced]
    return records


class IssuedAnswers:
    """The answers this server gave, by a random id, for feedback to refer to.

    Keeps what a feedback record needs (no passages), at most ``max_answers`` of them
    (the oldest forgotten first); thread-safe. An id is 128 random bits: holding one
    means having been given that answer.
    """

    def __init__(self, max_answers: int = MAX_ISSUED) -> None:
        self.max_answers = max(1, max_answers)
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def issue(self, answer: Answer) -> str:
        """Remember ``answer``; return its new id."""
        answer_id = uuid.uuid4().hex
        data = answer.to_dict()
        kept = {k: data.get(k) for k in ("question", "standalone_question", "answer")}
        kept |= {"abstained": answer.abstained, "backend": answer.backend}
        kept["citations"] = [_citation(c) for c in answer.citations]
        kept["answer_id"] = answer_id
        with self._lock:
            self._answers[answer_id] = kept
            while len(self._answers) > self.max_answers:
                self._answers.popitem(last=False)
        return answer_id

    def get(self, answer_id: object) -> dict[str, Any] | None:
        """The answer issued under ``answer_id``, or None (unknown, forged or forgotten)."""
        if not isinstance(answer_id, str):
            return None
        with self._lock:
            found = self._answers.get(answer_id)
        return dict(found) if found is not None else None

    def __len__(self) -> int:
        return len(self._answers)
