"""The audit log: who changed the corpus, and which logins failed.

One JSON object per line in ``<index dir>/audit.jsonl``: ``time`` (UTC, ISO 8601),
``user``, ``action`` (upload, remove, rebuild, login), ``file``, ``result`` (ok,
refused, failed) and an optional ``detail``. Appends are serialised within the process
and locked across processes (``flock``), so concurrent writers never interleave lines.
Admins read it in the app; nothing here is shown to other roles.
"""

from __future__ import annotations

import fcntl
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILE = "audit.jsonl"
MAX_FIELD_CHARS = 500
_LOCK = threading.Lock()


def audit_path(index_dir: Path) -> Path:
    return Path(index_dir) / AUDIT_FILE


def record(
    path: Path, user: str, action: str, result: str, file: str = "", detail: str = ""
) -> dict[str, Any]:
    """Append one entry (every field cut to 500 characters) and return it."""
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "user": user or "",
        "action": action,
        "file": file,
        "result": result,
    }
    if detail:
        entry["detail"] = detail
    entry = {k: str(v)[:MAX_FIELD_CHARS] for k, v in entry.items()}
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path, "a", encoding="utf-8") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        try:
            out.write(line)
            out.flush()
        finally:
            fcntl.flock(out, fcntl.LOCK_UN)
    return entry


def read(path: Path, limit: int = 200) -> list[dict[str, Any]]:
    """The last ``limit`` entries, newest last (a damaged line is skipped)."""
    try:
        lines = Path(path).read_text("utf-8", errors="replace").split("\n")
    except FileNotFoundError:
        return []
    out = []
    for line in lines[-(limit + 1) :]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out[-limit:]
