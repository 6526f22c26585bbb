"""Accept user files safely: checked names, sizes and contents before they reach the corpus.

:func:`stage_uploads` checks a whole batch, then copies it into the upload folder in a
way that can be undone: each copy is written to a hidden temp file and renamed into
place (a crash never leaves half a file under a visible name), and a file that
replaces an earlier upload of the same name keeps the earlier version as a hidden
backup until the caller :meth:`Staged.commit`\\ s (index built) or
:meth:`Staged.rollback`\\ s (index write failed: the earlier version is put back).
Hidden files are never indexed (:func:`rag.ingest.readers.corpus_files`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag import prompts
from rag.config import Config
from rag.errors import CorpusError, UnreadableFileError
from rag.ingest.readers import (
    READERS,
    load_corpus,
    load_document,
    relative_source,
    supported_suffixes,
)
from rag.types import Document

MAX_NAME_CHARS = 120


class DuplicateUploadError(CorpusError):
    """An uploaded file holds the same text as a document that is already indexed."""


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


@dataclass
class Staged:
    """One batch copied into the upload folder, and what undoing it takes.

    ``files`` are the new visible files; ``backups`` maps each replaced upload to the
    hidden hard link (or copy) that holds its previous version.
    """

    files: list[Path] = field(default_factory=list)
    backups: dict[Path, Path] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def commit(self) -> None:
        """The batch is indexed: forget the previous versions."""
        for backup in self.backups.values():
            with contextlib.suppress(OSError):
                backup.unlink()
        self.backups.clear()

    def rollback(self) -> None:
        """The batch could not be indexed: put back what the folder held before.

        A replaced upload gets its previous version back (same inode, size and mtime,
        so the old index is still fresh for it); a new file is removed.
        """
        for dest in self.files:
            backup = self.backups.pop(dest, None)
            try:
                if backup is not None:
                    os.replace(backup, dest)
                else:
                    dest.unlink(missing_ok=True)
            except OSError:
                pass  # nothing better to do; the backup stays hidden, never indexed
        self.files.clear()


def _hidden(dest: Path, kind: str) -> Path:
    """A hidden sibling of ``dest`` for a temp copy or a backup (never indexed)."""
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.{kind}")


def _check(p: Path, config: Config, limit: int) -> tuple[str, str]:
    """(safe name, document id) of one upload, or a clear error naming only the file."""
    name = safe_name(p.name)
    if Path(name).suffix.lower() not in READERS:
        raise UnreadableFileError(
            f"{p.name}: unsupported file type (supported: {', '.join(supported_suffixes())})"
        )
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise UnreadableFileError(f"{p.name}: cannot be read ({exc.strerror or exc})") from None
    if size > limit:
        raise UnreadableFileError(
            f"{p.name}: {size / 1e6:.1f} MB is over the upload limit of "
            f"{config.max_upload_mb} MB (RAG_MAX_UPLOAD_MB)"
        )
    try:  # a clear error for binary/undecodable/empty files ...
        doc = load_document(p, config.root)
    except UnreadableFileError as exc:  # ... that names the file, not where the server keeps it
        raise UnreadableFileError(str(exc).replace(str(p), p.name)) from None
    return name, doc.doc_id


def stage_uploads(
    paths: Sequence[Path], config: Config, indexed: Mapping[str, str] | None = None
) -> Staged:
    """Check every file, then copy them all into ``config.upload_dir``; return the batch.

    A file named like an earlier upload replaces it (a new version; the earlier one is
    kept until :meth:`Staged.commit`); two files of one batch whose safe names collide
    ("a/notes.md", "b/notes.md") are kept apart as "notes.md" and "notes-2.md".
    ``indexed`` maps the ids of indexed documents to their sources: a file with the
    text of a document indexed under another name is refused as a duplicate (one
    text, one document: removing it then really removes that text).

    Raises :class:`UnreadableFileError` (nothing copied) when a file is too large, of an
    unsupported type, or unreadable, and :class:`DuplicateUploadError` for a duplicate.
    """
    limit = config.max_upload_mb * 1024 * 1024
    dest_dir = config.upload_path
    known = dict(indexed or {})
    checked: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        name, doc_id = _check(p, config, limit)
        name = _unique(name, {n for _, n in checked})
        source = relative_source(dest_dir / name, config.root)
        other = known.get(doc_id)
        if other is not None and other != source:
            same_batch = other in {relative_source(dest_dir / n, config.root) for _, n in checked}
            raise DuplicateUploadError(
                prompts.DUPLICATE_UPLOAD.format(
                    name=p.name,
                    existing=other,
                    where=prompts.IN_THIS_BATCH if same_batch else prompts.ALREADY_INDEXED,
                )
            )
        known[doc_id] = source
        checked.append((p, name))
    dest_dir.mkdir(parents=True, exist_ok=True)
    staged = Staged()
    try:
        for p, name in checked:
            _place(p, dest_dir / name, staged)
            staged.sources.append(relative_source(dest_dir / name, config.root))
    except BaseException:
        staged.rollback()
        raise
    return staged


def _place(src: Path, dest: Path, staged: Staged) -> None:
    """Copy ``src`` to ``dest`` through a hidden temp file, backing up what ``dest`` held."""
    tmp = _hidden(dest, "part")
    backup: Path | None = None
    try:
        shutil.copyfile(src, tmp)
        if dest.exists():
            backup = _hidden(dest, "previous")
            try:
                os.link(dest, backup)  # the old inode stays: rollback restores it exactly
            except OSError:
                shutil.copy2(dest, backup)
        os.replace(tmp, dest)
    except BaseException:
        for leftover in (tmp, backup):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()
        raise
    if backup is not None:
        staged.backups[dest] = backup
    staged.files.append(dest)


@contextlib.contextmanager
def set_aside(path: Path) -> Iterator[None]:
    """Take ``path`` out of the upload folder (a hidden name) while the body re-indexes;
    delete it if the body succeeds, put it back if it fails (a removal that cannot be
    indexed must not lose the file while the index still serves it)."""
    aside = _hidden(path, "removed")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        aside = None
    try:
        yield
    except BaseException:
        if aside is not None:
            with contextlib.suppress(OSError):
                os.replace(aside, path)
        raise
    if aside is not None:
        with contextlib.suppress(OSError):
            aside.unlink()


def readable_uploads(
    paths: Sequence[Path], config: Config, indexed: Mapping[str, str] | None = None
) -> list[Document]:
    """The documents of the files of a batch that will probably be indexed (readable,
    under the size limit, not already indexed), for embedding ahead of the build; the
    others are left for :func:`stage_uploads` to refuse with its clear errors."""
    limit = config.max_upload_mb * 1024 * 1024
    docs = []
    for p in map(Path, paths):
        try:
            if p.stat().st_size > limit or Path(safe_name(p.name)).suffix.lower() not in READERS:
                continue
            doc = load_document(p, config.root)
        except (OSError, CorpusError):
            continue
        if doc.doc_id not in (indexed or {}):
            docs.append(doc)
    return docs


def unindexed_documents(config: Config, indexed: Mapping[str, str]) -> list[Document]:
    """The readable documents of the corpus and upload folders whose text the index does
    not hold yet (files added or changed since it was built), for embedding ahead of
    the build that brings the index up to date; unreadable files are left to the build."""
    docs = load_corpus(config.corpus_paths, config.root, skip_errors=True, warn=lambda _: None)
    return [d for d in docs if d.doc_id not in indexed]
