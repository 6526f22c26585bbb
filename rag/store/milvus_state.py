"""The shared index state in Milvus (``RAG_MILVUS_STATE=shared``, issue 21): three
collections hold everything a replica needs, so replicas share nothing but the cluster.

``<prefix>_s_state``   one row: the committed version, the settings fingerprint, the
                       writer lease (holder + expiry) and the counts.
``<prefix>_s_docs``    the documents: text in parts of at most :data:`PART_CHARS`
                       characters (Milvus strings are bounded), metadata (source, title,
                       dateline, byline, pages, date, chunk count) on part 0, and two
                       version columns: ``ver`` (committed in) and ``gone`` (removed in).
``<prefix>_s_chunks``  one row per chunk: a stable int64 id (a hash of the document id
                       and ordinal), document id, ordinal, offsets, source, date,
                       ``ver``, the hash of the embedded text (vector re-use), the vector,
                       and with ``RAG_LEXICAL=milvus`` the folded words + Milvus BM25.

A document id is a hash of its text, so a document's chunks never change once written: an
edited file is a new document (new rows) and the old one is removed. Visibility is by
version: a reader that loaded version ``V`` sees documents with ``ver <= V`` and
``gone == 0 or gone > V``, and searches chunks with ``ver <= V``, so rows a writer is still
inserting (``ver = V + 1``) are invisible until it commits by writing the state row.
Milvus has no transactions; this ordering (insert, tombstone, commit, purge) is what makes
a batch appear at once.

Every row a batch touches has a primary key that follows from what the writer or the
reader already holds: the state row ``"state"``, a document's parts ``<doc_id>#<n>`` (the
part count is in its metadata), its chunks :func:`chunk_key` of ``(doc_id, 0..n-1)`` (the
chunk count too). So updates, tombstones, purges and a replica's reload are point reads
and deletes by key, never a filter that scans the collection (Milvus evaluates a delete
by filter as a query first). This module is storage only; :mod:`rag.store.milvus_shared`
builds and loads indexes with it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.errors import RagError, StoreError
from rag.store.milvus_schema import chunks_schema, docs_schema, dummy_index, state_schema

LOG_VERSIONS = 32  # batches the state row remembers, so replicas reload only what changed
LOG_MAX_IDS = 2000  # a bigger batch is logged as "reload everything"
SCAN_OVER = 400  # more documents than this are read in one pass, not by id
PART_CHARS = 16_000  # <= 64 KB of UTF-8 per Milvus VARCHAR row
BATCH = 2000
STATE_KEY = "state"
KEYED = "doc:ordinal"  # settings["chunk_ids"] of an index whose chunk ids are chunk_key()
CLEAN = -1.0  # the lease's expiry once a writer released it after a finished batch
GET_BATCH = 1000  # primary keys per point read
DUMMY = [0.0, 0.0]  # Milvus needs a vector field in every collection

# Milvus Lite's server does not report an MVCC timestamp to iterators; pymilvus then
# warns on every query and falls back to the client's clock, which is what we want.
_ITERATOR_LOG = "pymilvus.client.iterator.query_iterator"


class LeaseHeldError(RagError):
    """Another indexer holds the shared index's write lease."""


@dataclass(frozen=True)
class State:
    """The state row: what is committed, with which settings, and who may write."""

    version: int
    settings: dict[str, Any]
    holder: str
    expires: float
    counts: dict[str, int]
    log: list[dict[str, Any]]  # the last LOG_VERSIONS batches: documents added, removed
    # set by acquire(): the lease was taken from a writer that released it after a finished
    # batch, so there is nothing above the committed version and no removal left to purge
    # (a crashed or failed writer, or one of an older release of this code, leaves the
    # lease held or its expiry at 0: the new writer recovers)
    taken_clean: bool = False

    @property
    def clean(self) -> bool:
        """Released as :data:`CLEAN` (see ``taken_clean``)."""
        return not self.holder and self.expires == CLEAN


def chunk_key(doc_id: str, ordinal: int) -> int:
    """The stable int64 id of a chunk: the same document text, chunked the same way, gives
    the same id on every machine (the settings are checked through the fingerprint). It
    depends on nothing but the document id and the ordinal, so the ids of a document's
    chunks follow from its chunk count: they are read and deleted by primary key, never
    by a filter that scans the collection."""
    digest = hashlib.blake2b(f"{doc_id}:{ordinal}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def legacy_chunk_key(doc_id: str, ordinal: int, start: int, end: int) -> int:
    """The chunk id of indexes created before :data:`KEYED` (offsets hashed in too, so the
    ids do not follow from the chunk count: those indexes are read and purged by filter)."""
    digest = hashlib.blake2b(f"{doc_id}:{ordinal}:{start}:{end}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def keyed(settings: dict[str, Any]) -> bool:
    """Whether an index's chunk ids are :func:`chunk_key` (set when it was created)."""
    return settings.get("chunk_ids") == KEYED


def chunk_keys(doc_id: str, n_chunks: int) -> list[int]:
    return [chunk_key(doc_id, i) for i in range(n_chunks)]


def part_keys(doc_id: str, parts: int) -> list[str]:
    """The primary keys of a document's rows in ``<prefix>_s_docs``."""
    return [f"{doc_id}#{i}" for i in range(max(1, parts))]


def me() -> str:
    """This writer's name in the lease row."""
    return f"{socket.gethostname()}:{os.getpid()}"


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_filter(field: str, values: Iterable[str]) -> str:
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


class SharedState:
    """The three collections behind one prefix, on one Milvus client."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.state = f"{prefix}_s_state"
        self.docs = f"{prefix}_s_docs"
        self.chunks = f"{prefix}_s_chunks"

    # ------------------------------------------------------------------ schema

    def exists(self) -> bool:
        return all(self.client.has_collection(c) for c in (self.state, self.docs, self.chunks))

    def create(self, dim: int, settings: dict[str, Any], *, full_text: bool, index: Any) -> None:
        """Create the collections (dropping any of these names) and a version-0 state row;
        ``settings`` get a fresh creation id. The scalar indexes are INVERTED (Milvus >=
        2.4, Milvus Lite), or Trie where the server has no INVERTED index (Milvus 2.3)."""
        settings = {**settings, "created": uuid.uuid4().hex, "chunk_ids": KEYED}
        for scalar in ("INVERTED", "Trie"):
            self.drop()
            try:
                self._create(dim, full_text, copy.deepcopy(index), scalar)
                break
            except Exception as exc:
                if scalar != "INVERTED" or "index type" not in str(exc).lower():
                    raise
        self.write_state(0, settings, "", 0.0, {"documents": 0, "chunks": 0})

    def _create(self, dim: int, full_text: bool, index: Any, scalar: str) -> None:
        c = self.client
        c.create_collection(
            self.state, schema=state_schema(c), index_params=dummy_index(c), **_STRONG
        )
        docs_index = dummy_index(c)
        docs_index.add_index("doc_id", index_type=scalar)  # filters by document
        c.create_collection(self.docs, schema=docs_schema(c), index_params=docs_index, **_STRONG)
        index.add_index("doc_id", index_type=scalar)  # legacy purges, first loads
        index.add_index("thash", index_type=scalar)  # vector re-use by text
        c.create_collection(
            self.chunks, schema=chunks_schema(c, dim, full_text), index_params=index, **_STRONG
        )

    def drop(self) -> None:
        for name in (self.chunks, self.docs, self.state):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def full_text(self) -> bool:
        fields = {f["name"] for f in self.client.describe_collection(self.chunks)["fields"]}
        return "sparse" in fields

    # ------------------------------------------------------------------ state row and lease

    def read_state(self) -> State | None:
        """The committed state row; None when there is no shared index under this prefix."""
        with self.errors("state read"):
            if not self.client.has_collection(self.state):
                return None
            rows = self.client.get(
                self.state,
                ids=[STATE_KEY],
                output_fields=["version", "settings", "holder", "expires", "counts", "log"],
            )
        if not rows:
            return None
        r = rows[0]
        return State(
            int(r["version"]),
            r["settings"],
            r["holder"],
            float(r["expires"]),
            r["counts"],
            _batches(r.get("log")),
        )

    def poll(self) -> tuple[str, int]:
        """Which index (its creation id: a rebuild starts again at version 0) at which
        committed version: one small query, what replicas run before answering."""
        with self.errors("version poll"):
            rows = self.client.get(
                self.state, ids=[STATE_KEY], output_fields=["version", "settings"]
            )
        if not rows:
            return "", -1
        return str(rows[0]["settings"].get("created", "")), int(rows[0]["version"])

    def write_state(
        self,
        version: int,
        settings: dict[str, Any],
        holder: str,
        expires: float,
        counts: dict[str, int],
        log: list[dict[str, Any]] | None = None,
    ) -> None:
        row = {
            "key": STATE_KEY,
            "version": version,
            "settings": settings,
            "holder": holder,
            "expires": expires,
            "counts": counts,
            "log": {"batches": log or []},  # an object: Milvus 2.3 takes no JSON array
            "v": DUMMY,
        }
        with self.errors("state write"):
            self.client.upsert(self.state, [row])

    def acquire(self, lease_s: float, holder: str | None = None) -> State:
        """Take the write lease, or raise :class:`LeaseHeldError` naming who holds it.

        Milvus has no compare-and-set, so this is upsert-then-verify: after writing
        itself into the row the writer reads it back and gives up unless it is still the
        holder. Two writers racing within one round trip could both pass; the lease
        guards against the real case, a second `rag index` or replica upload while one
        runs (and an expired lease of a crashed writer is taken over)."""
        holder = holder or me()
        st = self.read_state()
        if st is None:
            raise StoreError(f"no shared index state in Milvus under {self.prefix!r}")
        now = time.time()
        if st.holder and st.holder != holder and st.expires > now:
            raise LeaseHeldError(
                f"another indexer ({st.holder}) is writing the shared index {self.prefix!r} "
                f"in Milvus; its lease ends in {st.expires - now:.0f} s. Wait for it to "
                "finish and retry (one writer at a time)"
            )
        self.write_state(st.version, st.settings, holder, now + lease_s, st.counts, st.log)
        back = self.read_state()
        if back is None or back.holder != holder:
            raise LeaseHeldError(
                f"another indexer ({back.holder if back else '?'}) took the write lease of "
                f"{self.prefix!r} at the same time; retry when it has finished"
            )
        return dataclasses.replace(back, taken_clean=st.clean and back.version == st.version)

    def renew(self, lease_s: float, holder: str | None = None) -> None:
        """Extend this writer's lease (long batches call it between steps)."""
        st = self.read_state()
        holder = holder or me()
        if st is None or st.holder != holder:
            raise LeaseHeldError(
                f"this indexer lost the write lease of {self.prefix!r} "
                f"(now held by {st.holder if st else '?'}); its changes were not committed"
            )
        expires = time.time() + lease_s
        self.write_state(st.version, st.settings, holder, expires, st.counts, st.log)

    def commit(
        self,
        version: int,
        counts: dict[str, int],
        lease_s: float,
        holder: str,
        change: tuple[Sequence[str], Sequence[str]],
    ) -> None:
        """Make ``version`` the committed one, if this writer still holds the lease;
        ``change`` (documents added, removed) goes into the log replicas follow."""
        st = self.read_state()
        if st is None or st.holder != holder:
            raise LeaseHeldError(
                f"this indexer lost the write lease of {self.prefix!r} before its commit "
                f"(now held by {st.holder if st else '?'}); nothing was committed"
            )
        added, removed = change
        entry: dict[str, Any] = {"v": version}
        if len(added) + len(removed) > LOG_MAX_IDS:
            entry["full"] = True
        else:
            entry.update(added=list(added), removed=list(removed))
        log = [*st.log, entry][-LOG_VERSIONS:]
        self.write_state(version, st.settings, holder, time.time() + lease_s, counts, log)

    def release(self, holder: str | None = None, *, clean: bool = False) -> None:
        """Give the lease up. ``clean``: the batch finished (committed and purged), so the
        next writer has nothing to undo and skips the recovery scans."""
        st = self.read_state()
        if st is not None and st.holder == (holder or me()):
            expires = CLEAN if clean else 0.0
            self.write_state(st.version, st.settings, "", expires, st.counts, st.log)

    # ------------------------------------------------------------------ documents

    def document_heads(self, version: int) -> list[dict[str, Any]]:
        """Part 0 of every document visible at ``version``: id, version, metadata (no text)."""
        flt = f"part == 0 and ver <= {version} and (gone == 0 or gone > {version})"
        return self.iterate(self.docs, flt, ["doc_id", "meta", "ver"])

    def heads_of(self, doc_ids: Sequence[str], version: int) -> list[dict[str, Any]]:
        """:meth:`document_heads`, only for ``doc_ids`` (what a version log names): a point
        read of their part-0 rows by primary key, visibility checked here."""
        rows = self.get(self.docs, [f"{d}#0" for d in doc_ids], ["doc_id", "meta", "ver", "gone"])
        return [r for r in rows if _visible(r, version)]

    def document_texts(
        self, doc_ids: Sequence[str], version: int, parts: dict[str, int] | None = None
    ) -> dict[str, str]:
        """The whole text of each document, joined from its parts. Many documents (a
        replica's first load) are read in one pass over the collection; a few, whose part
        counts ``parts`` gives, by primary key; otherwise by a filter on ``doc_id``."""
        chunks: dict[str, list[tuple[int, str]]] = {}
        fields = ["doc_id", "part", "text"]
        if len(doc_ids) > SCAN_OVER:
            rows = self.iterate(self.docs, f"ver <= {version}", fields)
        elif parts is not None and all(d in parts for d in doc_ids):
            rows = self.get(self.docs, [k for d in doc_ids for k in part_keys(d, parts[d])], fields)
        else:
            rows = [
                r
                for a in range(0, len(doc_ids), 200)
                for r in self.iterate(self.docs, in_filter("doc_id", doc_ids[a : a + 200]), fields)
            ]
        wanted = set(doc_ids)
        for row in rows:
            if row["doc_id"] in wanted:
                chunks.setdefault(row["doc_id"], []).append((int(row["part"]), row["text"]))
        return {d: "".join(t for _, t in sorted(p)) for d, p in chunks.items()}

    def insert_documents(self, docs: Sequence[Any], n_chunks: dict[str, int], ver: int) -> int:
        """Insert documents (their parts) at version ``ver``; returns rows written."""
        rows = []
        for d in docs:
            pieces = [d.text[a : a + PART_CHARS] for a in range(0, len(d.text), PART_CHARS)] or [""]
            meta = {**d.meta(), "parts": len(pieces), "chunks": n_chunks[d.doc_id]}
            for i, piece in enumerate(pieces):
                rows.append(
                    {
                        "key": f"{d.doc_id}#{i}",
                        "doc_id": d.doc_id,
                        "part": i,
                        "ver": ver,
                        "gone": 0,
                        "text": piece,
                        "meta": meta if i == 0 else {},
                        "v": DUMMY,
                    }
                )
        self.insert(self.docs, rows)
        return len(rows)

    def head_rows(self, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The whole part-0 rows of documents (text included), by primary key: what
        :meth:`tombstone` rewrites (an upsert replaces a whole row before Milvus 2.6)."""
        return self.get(self.docs, [f"{d}#0" for d in doc_ids], _HEAD_FIELDS)

    def tombstone(
        self, doc_ids: Sequence[str], gone: int, heads: list[dict[str, Any]] | None = None
    ) -> None:
        """Mark documents removed as of version ``gone`` (0: not removed); part 0 is
        rewritten (read by primary key, or ``heads`` from :meth:`head_rows` read before
        the batch's writes: on a Milvus server each Strong read waits for a time tick),
        the other parts and the chunks stay until :meth:`purge`."""
        heads = self.head_rows(doc_ids) if heads is None else heads
        rows = [
            {
                "key": f"{h['doc_id']}#0",
                "doc_id": h["doc_id"],
                "part": 0,
                "ver": int(h["ver"]),
                "gone": gone,
                "text": h["text"],
                "meta": h["meta"],
                "v": DUMMY,
            }
            for h in heads
        ]
        for a in range(0, len(rows), BATCH):
            with self.errors("tombstone"):
                self.client.upsert(self.docs, rows[a : a + BATCH])

    def purge(self, metas: dict[str, dict[str, Any]], keyed: bool) -> int:
        """Delete the rows of documents (all parts and chunks), given their part-0 metadata
        by document id; returns chunk rows deleted. Document rows go by primary key; chunk
        rows too when the index is ``keyed`` (ids from the chunk count), else by filter."""
        deleted = 0
        ids = list(metas)
        for a in range(0, len(ids), 200):
            part = ids[a : a + 200]
            with self.errors("delete"):
                if keyed:
                    keys = [k for d in part for k in chunk_keys(d, int(metas[d]["chunks"]))]
                    res = self.client.delete(self.chunks, ids=keys) if keys else None
                    deleted += len(keys)
                else:
                    res = self.client.delete(self.chunks, filter=in_filter("doc_id", part))
                    deleted += _delete_count(res)
                docs = [k for d in part for k in part_keys(d, int(metas[d].get("parts", 1)))]
                self.client.delete(self.docs, ids=docs)
        return deleted

    def recover(self, version: int, keyed: bool) -> dict[str, np.ndarray]:
        """Undo what a crashed or failed writer left (rows above the committed
        ``version``; tombstones it never committed) and finish its committed removals.
        Returns the vectors of the rows it deletes, by embedded-text hash, so that they
        are re-used, not re-embedded. These are filter scans: a writer runs this only
        when the lease was not released :attr:`State.clean`."""
        flt = f"ver > {version}"
        orphans = self.vectors_where(flt)
        with self.errors("recovery"):
            self.client.delete(self.chunks, filter=flt)
            self.client.delete(self.docs, filter=flt)
        stale = self.iterate(self.docs, f"part == 0 and gone > {version}", ["doc_id"])
        if stale:
            self.tombstone([r["doc_id"] for r in stale], 0)
        flt = f"part == 0 and gone > 0 and gone <= {version}"
        removed = self.iterate(self.docs, flt, ["doc_id", "meta"])
        if removed:
            self.purge({r["doc_id"]: r["meta"] for r in removed}, keyed)
        return orphans

    # ------------------------------------------------------------------ chunks

    def chunk_rows(
        self, doc_ids: Sequence[str], version: int, counts: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        """The chunk rows (no vectors) of some documents; many in one pass, as above; a few
        by primary key when ``counts`` gives their chunk counts (a :func:`keyed` index),
        else by a filter on ``doc_id``."""
        fields = ["id", "doc_id", "ordinal", "start", "end"]
        if len(doc_ids) > SCAN_OVER:
            wanted = set(doc_ids)
            rows = self.iterate(self.chunks, f"ver <= {version}", fields)
            return [r for r in rows if r["doc_id"] in wanted]
        if counts is not None and all(d in counts for d in doc_ids):
            return self.get(
                self.chunks, [k for d in doc_ids for k in chunk_keys(d, counts[d])], fields
            )
        out: list[dict[str, Any]] = []
        for a in range(0, len(doc_ids), 200):
            out += self.iterate(self.chunks, in_filter("doc_id", doc_ids[a : a + 200]), fields)
        return out

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors whose embedded text has one of ``hashes`` (re-use, not re-embed)."""
        found: dict[str, np.ndarray] = {}
        for a in range(0, len(hashes), 500):
            for row in self.iterate(
                self.chunks, in_filter("thash", hashes[a : a + 500]), ["thash", "vector"]
            ):
                found.setdefault(row["thash"], np.asarray(row["vector"], dtype=np.float32))
        return found

    def vectors_where(self, flt: str) -> dict[str, np.ndarray]:
        """The vectors of the chunk rows matching ``flt``, by embedded-text hash."""
        if not self.client.has_collection(self.chunks):
            return {}
        return {
            r["thash"]: np.asarray(r["vector"], dtype=np.float32)
            for r in self.iterate(self.chunks, flt, ["thash", "vector"])
        }

    def insert_chunks(self, rows: list[dict[str, Any]], progress: bool = False) -> None:
        self.insert(self.chunks, rows, progress=progress)

    # ------------------------------------------------------------------ plumbing

    def insert(self, collection: str, rows: list[dict[str, Any]], progress: bool = False) -> None:
        starts: Iterable[int] = range(0, len(rows), BATCH)
        if progress and len(rows) > 2 * BATCH:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=f"Milvus {collection}", unit="batch", leave=False)
        for a in starts:
            with self.errors("insert"):
                self.client.insert(collection, rows[a : a + BATCH])

    def flush(self, *collections: str) -> None:
        """Seal what was written into segments. Neither reads nor durability need it:
        every collection is created with Strong consistency, so a query sees all writes
        before it, and a write is in Milvus's write-ahead log once acknowledged. Only a
        bulk batch flushes, once at its end (:meth:`flush_all`); a small one does not
        (Milvus advises against frequent flushes: each seals a tiny segment)."""
        for c in collections:
            with contextlib.suppress(Exception):
                self.client.flush(c)

    def flush_all(self) -> None:
        self.flush(self.chunks, self.docs, self.state)

    def iterate(self, collection: str, flt: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row matching ``flt`` (an iterator: a Milvus cluster caps one query at
        16,384 rows)."""
        logging.getLogger(_ITERATOR_LOG).setLevel(logging.ERROR)  # pymilvus resets it
        with self.errors("query"):
            it = self.client.query_iterator(
                collection, batch_size=4000, filter=flt, output_fields=fields
            )
            out: list[dict[str, Any]] = []
            try:
                while batch := it.next():
                    out += batch
            finally:
                it.close()
        return out

    def get(self, collection: str, keys: Sequence[Any], fields: list[str]) -> list[dict[str, Any]]:
        """The rows with these primary keys (missing ones are left out): a point read,
        never a scan."""
        out: list[dict[str, Any]] = []
        for a in range(0, len(keys), GET_BATCH):
            with self.errors("read"):
                out += self.client.get(
                    collection, ids=list(keys[a : a + GET_BATCH]), output_fields=fields
                )
        return out

    def count(self, collection: str) -> int:
        with self.errors("count"):
            res = self.client.query(collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    @contextlib.contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """pymilvus exceptions as :class:`StoreError`; our own errors pass through."""
        try:
            yield
        except RagError:
            raise
        except Exception as exc:
            raise StoreError(
                f"Milvus {what} on the shared index {self.prefix!r} failed "
                f"({type(exc).__name__}: {str(exc)[:200]}); is the server up?"
            ) from None


_STRONG = {"consistency_level": "Strong"}


def _batches(log: Any) -> list[dict[str, Any]]:
    """The batch log of a state row: ``{"batches": [...]}``, or the bare list that rows
    written before Milvus 2.3 was supported hold."""
    if isinstance(log, dict):
        return list(log.get("batches") or [])
    return list(log or [])


def _visible(head: dict[str, Any], version: int) -> bool:
    """Whether a document's part-0 row is in the snapshot of ``version``."""
    gone = int(head["gone"])
    return int(head["ver"]) <= version and (gone == 0 or gone > version)


_HEAD_FIELDS = ["doc_id", "meta", "ver", "text"]


def _delete_count(res: Any) -> int:
    if isinstance(res, dict):
        return int(res.get("delete_count", 0))
    return int(getattr(res, "delete_count", 0) or 0)
