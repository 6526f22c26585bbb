"""The assistant's corpus: the documents it answers from, uploads and removals that
re-index them, and following an index another process (or replica) rebuilt.

:class:`IndexedCorpus` is a base of :class:`rag.answer.assistant.Assistant`; it uses the
assistant's ``config``, ``parts`` (the loaded components), ``_index_lock`` (one index
change at a time in this process), ``_follow_lock`` and ``_manifest_seen``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.config import Config
from rag.errors import RagError
from rag.ingest.uploads import (
    Staged,
    readable_uploads,
    set_aside,
    stage_uploads,
    unindexed_documents,
)
from rag.retrieve.components import Components
from rag.retrieve.routing import make_retriever
from rag.store.build import BuildReport, build_index, chunk_vectors
from rag.store.index import load_index
from rag.store.manifest import MANIFEST, read_manifest
from rag.store.milvus_shared import changed, is_shared, load_shared
from rag.store.milvus_writer import remove_shared
from rag.types import Document


class IndexedCorpus:
    """Documents, uploads, removals and index reloads of an assistant."""

    config: Config
    parts: Components
    _index_lock: threading.Lock
    _follow_lock: threading.Lock
    _manifest_seen: tuple[int, int] | None

    def follow_index(self) -> bool:
        """Reload the index when its manifest names another generation than the loaded one
        (one ``stat`` per call otherwise); returns whether it reloaded. A missing or broken
        manifest keeps the loaded index answering."""
        if is_shared(self.config):  # issue 21: poll the version row in Milvus, not a manifest
            if not changed(self.parts.index) or not self._follow_lock.acquire(blocking=False):
                return False
            try:
                self._reload()
                return True
            except RagError:
                return False
            finally:
                self._follow_lock.release()
        seen = manifest_key(self.config)
        if seen is None or seen == self._manifest_seen:
            return False
        if not self._follow_lock.acquire(blocking=False):
            return False  # another question is reloading it right now
        try:
            if seen == self._manifest_seen:
                return False
            self._manifest_seen = seen
            try:
                generation = read_manifest(self.config.index_path).get("generation")
            except RagError:
                return False
            if generation == self.parts.index.manifest.get("generation"):
                return False
            try:
                self._reload()
            except RagError:
                return False
            return True
        finally:
            self._follow_lock.release()

    def document(self, key: str) -> Document:
        """An indexed document by id or source path."""
        return self.parts.index.document(key)

    @property
    def documents(self) -> list[Document]:
        return list(self.parts.index.docs)

    def add_files(
        self,
        paths: Sequence[Path],
        *,
        warn: Callable[[str], None] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> BuildReport:
        """Copy files into the upload folder and index them (only changed chunks embedded).

        Every file is read and checked first: one bad file, or a file whose text is
        already indexed under another name, rejects the batch with a clear error and
        leaves the folder and the index as they were. If the index cannot be written,
        the folder is put back as it was, earlier versions of replaced files included.
        ``report.added`` lists the sources of this batch (not of a concurrent one). An
        empty batch brings the index up to date with the folders as they are.

        The new text is embedded before the index lock is taken (the slow part: minutes
        for megabytes), so a removal or a question meanwhile does not wait for it;
        ``progress`` gets (chunks embedded, chunks to embed) as it goes.
        """
        indexed = {d.doc_id: d.source for d in self.documents}
        if paths:
            docs = readable_uploads(paths, self.config, indexed)
        else:  # an update: whatever changed in the folders since the index was built
            docs = unindexed_documents(self.config, indexed)
        precomputed = chunk_vectors(
            docs, self.config, self.parts.embedder, known=self.parts.index, progress=progress
        )
        with self._index_lock:
            indexed = {d.doc_id: d.source for d in self.documents}
            staged = stage_uploads(paths, self.config, indexed) if paths else Staged()
            try:
                report = build_index(
                    self.config,
                    self.parts.embedder,
                    progress=False,
                    warn=warn,
                    skip_unreadable=True,
                    precomputed=precomputed,
                    defer_unprepared=bool(paths),  # an update embeds what else changed
                )
            except BaseException:
                staged.rollback()
                raise
            staged.commit()
            report.added = list(staged.sources)
            self._reload()
            return report

    def remove_document(self, source: str) -> BuildReport:
        """Remove an uploaded document (or an unreadable upload that was skipped) from the
        upload folder and the index."""
        with self._index_lock:
            if source not in self.parts.index.skipped:
                source = self.document(source).source
            path = self.config.path(Path(source))
            if not _inside(path, self.config.upload_path):
                raise RagError(
                    f"{source} is part of the corpus folder, not an upload; "
                    "remove the file from the corpus folder and run `rag index`"
                )
            if is_shared(self.config):  # issue 21: the upload may live on another replica
                with set_aside(path):
                    report = remove_shared(self.config, self.parts.embedder, source)
                self._reload()
                return report  # type: ignore[return-value]  # same fields as BuildReport
            with set_aside(path):  # put back if the index cannot be written
                report = build_index(
                    self.config,
                    self.parts.embedder,
                    progress=False,
                    skip_unreadable=True,
                    defer_unprepared=True,  # other changes are the update's to embed
                )
            self._reload()
            return report

    def _reload(self) -> None:
        self._manifest_seen = manifest_key(self.config)
        index = load_shared(self.config) if is_shared(self.config) else load_index(self.config)
        self.parts = Components(
            self.config,
            self.parts.embedder,
            index,
            make_retriever(index, self.parts.embedder, self.config, previous=self.parts.retriever),
        )


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def manifest_key(config: Config) -> tuple[int, int] | None:
    """What changes when a build replaces the manifest (mtime, size); None when missing."""
    try:
        st = (config.index_path / MANIFEST).stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
