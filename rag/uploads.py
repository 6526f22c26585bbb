"""Accept user files safely: checked names, sizes and contents before they reach the corpus."""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from .config import Config
from .errors import UnreadableFileError
from .ingest import READERS, load_document, supported_suffixes

MAX_NAME_CHARS = 120


def safe_name(name: str) -> str:
    """A file name that cannot leave the upload folder ("../../etc/passwd" -> "etc_passwd")."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base, flags=re.UNICODE).strip(" .")
    base = re.sub(r"\.{2,}", ".", base)
    if len(base) > MAX_NAME_CHARS:  # shorten the stem, keep the suffix that picks the reader
        stem, dot, suffix = base.rpartition(".")
        if dot and stem and len(suffix) <= 10:
            base = f"{stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(' .')}.{suffix}"
        else:
            base = base[:MAX_NAME_CHARS]
    return base or "upload.txt"


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``, ... when already in ``taken``."""
    stem, dot, suffix = name.rpartition(".")
    stem, dot = (stem, dot) if dot else (name, "")
    n, out = 1, name
    while out.lower() in {t.lower() for t in taken}:
        n += 1
        out = f"{stem}-{n}{dot}{suffix if dot else ''}"
    return out


def stage_uploads(paths: Sequence[Path], config: Config) -> list[Path]:
    """Check every file, then copy them all into ``config.upload_dir``; return the new paths.

    A file named like an earlier upload replaces it (a new version); two files of one batch
    whose safe names collide ("a/notes.md", "b/notes.md") are kept apart as "notes.md" and
    "notes-2.md".

    Raises :class:`UnreadableFileError` (nothing copied) when a file is too large, of an
    unsupported type, or unreadable.
    """
    limit = config.max_upload_mb * 1024 * 1024
    checked: list[tuple[Path, str]] = []
    for p in paths:
        p = Path(p)
        name = safe_name(p.name)
        if Path(name).suffix.lower() not in READERS:
            raise UnreadableFileError(
                f"{p.name}: unsupported file type (supported: {', '.join(supported_suffixes())})"
            )
        size = p.stat().st_size
        if size > limit:
            raise UnreadableFileError(
                f"{p.name}: {size / 1e6:.1f} MB is over the upload limit of "
                f"{config.max_upload_mb} MB (RAG_MAX_UPLOAD_MB)"
            )
        load_document(p, config.root)  # raises a clear error for binary/undecodable/empty files
        checked.append((p, _unique(name, {n for _, n in checked})))
    dest_dir = config.upload_path
    dest_dir.mkdir(parents=True, exist_ok=True)
    added = []
    for p, name in checked:
        dest = dest_dir / name
        shutil.copyfile(p, dest)
        added.append(dest)
    return added
