"""Evaluation datasets: read, validate and locate the evidence of a JSONL question file.

Every line is checked on load and every problem is reported with its line, id and
field; with a corpus folder, each evidence string is located (file, start, end) in the
item's source files. Used by :mod:`rag.evaluation.runner` and :mod:`rag.evaluation.suite`.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, RagError
from rag.ingest.readers import READERS, normalize

FIELDS: dict[str, type] = {
    "id": str,
    "question": str,
    "answer": str,
    "aliases": list,
    "answerable": bool,
    "source_files": list,
    "evidence": list,
    "type": str,
}
# Optional fields: the fine question type, the conversation before a follow-up, and
# for an unanswerable question the kind of near miss it is (another year, rank, ...).
OPTIONAL_FIELDS: dict[str, type] = {
    "qtype": str,
    "history": list,
    "miss": str,
    # many-article items (eval/multiarticle): the sides of a disagreement (newest first),
    # older values a "latest" question must not give as current, the restriction a
    # filtered question is asked under, and the parts of a two-part question
    "sides": list,
    "stale_answers": list,
    "filter": dict,
    "unfiltered_answer": str,
    "parts": list,
}
TYPES = (
    "single",
    "multi",
    "two_part",
    "followup",
    "disagreement",
    "recency",
    "filtered",
    "unanswerable",
)  # a question's type (metrics are split by it)
MULTI_TYPES = frozenset({"multi", "two_part"})  # answers matched part by part
FILTER_KEYS = frozenset({"sources", "since", "until", "scope"})
QTYPES = tuple(
    [
        "who",
        "what",
        "which",
        "when",
        "where",
        "how_many",
        "how_much",
        "why",
        "yes_no",
        "list",
        "two_part",
        "follow_up",
    ]
)
MAX_DATASET_BYTES = 64 * 1024 * 1024  # a dataset is text: refuse anything bigger, unread


class DatasetError(RagError):
    """An evaluation dataset is missing or malformed; ``problems`` has one line per issue."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# ---------------------------------------------------------------------------- dataset

Location = tuple[str, int, int]  # (file under the corpus folder, start, end)


@dataclass(frozen=True)
class Side:
    """One side of a disagreement: its value (and aliases) and the files that give it."""

    answer: str
    aliases: tuple[str, ...]
    source_files: tuple[str, ...]
    date: str = ""

    @property
    def golds(self) -> list[str]:
        return [self.answer, *self.aliases]


@dataclass(frozen=True)
class Item:
    """One evaluation question; ``locations[i]`` lists where ``evidence[i]`` occurs."""

    id: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    answerable: bool
    source_files: tuple[str, ...]
    evidence: tuple[str, ...]
    type: str
    line: int = 0
    locations: tuple[tuple[Location, ...], ...] = ()
    qtype: str = ""
    history: tuple[tuple[str, str], ...] = ()
    miss: str = ""
    sides: tuple[Side, ...] = ()
    stale_answers: tuple[str, ...] = ()
    filter: dict[str, Any] | None = None

    @property
    def golds(self) -> list[str]:
        return [self.answer, *self.aliases]

    @property
    def kind(self) -> str:
        """The fine question type when the dataset gives one, else the coarse type."""
        return self.qtype or self.type


@dataclass(frozen=True)
class Dataset:
    """A validated dataset file."""

    path: Path
    sha256: str
    items: tuple[Item, ...]

    def head(self, n: int | None) -> Dataset:
        """The first ``n`` questions (all when ``n`` is None)."""
        if n is None:
            return self
        if n < 1:
            raise ConfigError("--limit must be at least 1")
        return replace(self, items=self.items[:n])

    def meta(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "items": len(self.items),
            "by_type": dict(Counter(i.type for i in self.items)),
            "by_qtype": dict(Counter(i.kind for i in self.items)),
        }


class _Corpus:
    """NFC text of corpus files by name (relative to the corpus folder), read once."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._texts: dict[str, str | None] = {}

    def text(self, name: str) -> str | None:
        if name not in self._texts:
            self._texts[name] = self._read(name)
        return self._texts[name]

    def _read(self, name: str) -> str | None:
        assert self.folder is not None
        path = self.folder / name
        try:
            path.resolve().relative_to(self.folder.resolve())
        except ValueError:
            return None
        if not path.is_file():
            return None
        reader = READERS.get(path.suffix.lower())
        try:
            return reader(path).text if reader else normalize(path.read_text(encoding="utf-8"))
        except (RagError, OSError, UnicodeDecodeError):
            return None


def load_dataset(path: Path, corpus_dir: Path | None = None) -> Dataset:
    """Read and validate a JSONL dataset; raise :class:`DatasetError` listing every problem.

    With ``corpus_dir``, every source file must exist there and every evidence string
    must occur verbatim (after NFC normalisation) in one of the item's source files.
    """
    data = read_dataset_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 (byte offset {exc.start})") from None
    corpus = _Corpus(corpus_dir) if corpus_dir is not None else None
    items: list[Item] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item, errors = parse_line(line, lineno, corpus)
        if item is not None and item.id in seen:
            errors.append(
                f"line {lineno} (id {item.id}): field 'id': duplicate of line {seen[item.id]}"
            )
        problems += errors
        if item is not None and not errors:
            seen[item.id] = lineno
            items.append(item)
    if len(problems) == 1:  # one problem: one line, as every other CLI error
        raise DatasetError(f"{path}: {problems[0]}", problems)
    if problems:
        shown = problems[:20] + (
            [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        )
        raise DatasetError(
            f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(shown), problems
        )
    if not items:
        raise DatasetError(f"{path}: no questions in the dataset")
    return Dataset(path, hashlib.sha256(data).hexdigest(), tuple(items))


def read_dataset_bytes(path: Path, limit: int = MAX_DATASET_BYTES) -> bytes:
    """The bytes of a dataset file: a regular file of at most ``limit`` bytes.

    Devices, FIFOs and folders (a symlink to /dev/zero, say) are refused before any
    read, and at most ``limit + 1`` bytes are ever read, so a bad path cannot exhaust
    memory or hang the run.
    """
    try:
        if not path.exists():
            raise DatasetError(f"dataset {path} not found; pass --dataset PATH")
        if not path.is_file():
            raise DatasetError(f"dataset {path} is not a regular file; pass a JSONL file")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise DatasetError(
            f"dataset {path} is larger than {limit // (1024 * 1024)} MB; split it into smaller files"
        )
    return data


def parse_line(
    line: str, lineno: int, corpus: _Corpus | None = None
) -> tuple[Item | None, list[str]]:
    """One dataset line as an :class:`Item` and the problems found (each naming line and id)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, [f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})"]
    except RecursionError:
        return None, [f"line {lineno}: JSON nested too deeply"]
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return None, [f"line {lineno}: not valid JSON ({str(exc).split(';')[0]})"]
    if not isinstance(rec, dict):
        return None, [f"line {lineno}: expected a JSON object, got {type(rec).__name__}"]
    ident = rec.get("id") if isinstance(rec.get("id"), str) else None
    where = f"line {lineno}" + (f" (id {ident})" if ident else "")
    errors = [f"{where}: field {msg}" for msg in _field_problems(rec) + _optional_problems(rec)]
    if errors:
        return None, errors
    errors = [f"{where}: field {msg}" for msg in _consistency_problems(rec)]
    item = Item(
        id=rec["id"],
        question=rec["question"],
        answer=rec["answer"],
        aliases=tuple(rec["aliases"]),
        answerable=rec["answerable"],
        source_files=tuple(Path(f).as_posix() for f in rec["source_files"]),
        evidence=tuple(unicodedata.normalize("NFC", e) for e in rec["evidence"]),
        type=rec["type"],
        line=lineno,
        qtype=rec.get("qtype", ""),
        history=tuple(_turn(t) for t in rec.get("history", [])),
        miss=rec.get("miss", ""),
        sides=tuple(
            Side(
                s["answer"],
                tuple(s.get("aliases", [])),
                tuple(Path(f).as_posix() for f in s.get("source_files", [])),
                str(s.get("date", "")),
            )
            for s in rec.get("sides", [])
        ),
        stale_answers=tuple(rec.get("stale_answers", [])),
        filter=dict(rec["filter"]) if rec.get("filter") else None,
    )
    if corpus is not None and not errors:
        locations, msgs = _locate(item, corpus)
        errors += [f"{where}: field {msg}" for msg in msgs]
        item = replace(item, locations=locations)
    return item, errors


def _field_problems(rec: dict[str, Any]) -> list[str]:
    """Missing fields and wrong types."""
    out = []
    for name, typ in FIELDS.items():
        if name not in rec:
            out.append(f"{name!r}: missing")
        elif not isinstance(rec[name], typ) or (typ is not bool and isinstance(rec[name], bool)):
            out.append(f"{name!r}: must be {typ.__name__}, got {type(rec[name]).__name__}")
        elif typ is list:
            bad = [i for i, v in enumerate(rec[name]) if not isinstance(v, str) or not v.strip()]
            if bad:
                out.append(f"{name!r}[{bad[0]}]: must be a non-empty string")
    return out


def _optional_problems(rec: dict[str, Any]) -> list[str]:
    """Wrong types or values of the optional fields (qtype, history, miss)."""
    out = []
    for name, typ in OPTIONAL_FIELDS.items():
        if name in rec and not isinstance(rec[name], typ):
            out.append(f"{name!r}: must be {typ.__name__}, got {type(rec[name]).__name__}")
    if isinstance(rec.get("qtype"), str) and rec["qtype"] not in QTYPES:
        out.append(f"'qtype': must be one of {', '.join(QTYPES)}, not {rec['qtype']!r}")
    history = rec.get("history")
    for i, turn in enumerate(history if isinstance(history, list) else []):
        if _turn(turn) is None:
            out.append(
                f"'history'[{i}]: must be a [question, answer] pair or a "
                "{question, answer} object of non-empty strings"
            )
    return out + _multiarticle_problems(rec)


def _turn(turn: Any) -> tuple[str, str] | None:
    """A history turn, written ``[question, answer]`` or ``{"question", "answer"}``."""
    if isinstance(turn, dict) and set(turn) >= {"question", "answer"}:
        turn = [turn["question"], turn["answer"]]
    if (
        isinstance(turn, list)
        and len(turn) == 2
        and all(isinstance(t, str) and t.strip() for t in turn)
    ):
        return turn[0], turn[1]
    return None


def _multiarticle_problems(rec: dict[str, Any]) -> list[str]:
    """Shapes of the many-article fields: sides, stale answers, the filter."""
    out = []
    for i, side in enumerate(rec.get("sides") if isinstance(rec.get("sides"), list) else []):
        if not isinstance(side, dict) or not (
            isinstance(side.get("answer"), str) and side["answer"].strip()
        ):
            out.append(f"'sides'[{i}]: must be an object with a non-empty 'answer'")
            continue
        for key in ("aliases", "source_files"):
            if not isinstance(side.get(key, []), list) or not all(
                isinstance(v, str) and v.strip() for v in side.get(key, [])
            ):
                out.append(f"'sides'[{i}].{key}: must be a list of non-empty strings")
    stale = rec.get("stale_answers")
    if isinstance(stale, list) and not all(isinstance(v, str) and v.strip() for v in stale):
        out.append("'stale_answers': must be a list of non-empty strings")
    filt = rec.get("filter")
    if isinstance(filt, dict):
        unknown = set(filt) - FILTER_KEYS
        if unknown:
            out.append(f"'filter': unknown key(s) {', '.join(sorted(unknown))}")
        elif not filt:
            out.append("'filter': is empty")
        else:
            from rag.errors import QueryError
            from rag.retrieve.filters import SourceFilter

            try:
                SourceFilter.parse(
                    filt.get("sources"), filt.get("since"), filt.get("until"), filt.get("scope")
                )
            except (QueryError, TypeError, AttributeError) as exc:
                out.append(f"'filter': {exc}")
    sides = rec.get("sides")
    if rec.get("type") == "disagreement" and isinstance(sides, list) and len(sides) < 2:
        out.append("'sides': a disagreement needs at least two sides")
    return out


def _consistency_problems(rec: dict[str, Any]) -> list[str]:
    """Values that contradict each other (type vs answerable vs answer/evidence)."""
    out = []
    if not rec["id"].strip():
        out.append("'id': is empty")
    if not rec["question"].strip():
        out.append("'question': is empty")
    if rec["type"] not in TYPES:
        return [*out, f"'type': must be one of {', '.join(TYPES)}, not {rec['type']!r}"]
    if rec["answerable"] != (rec["type"] != "unanswerable"):
        out.append(f"'answerable': is {str(rec['answerable']).lower()} but type is {rec['type']!r}")
    elif not rec["answerable"]:
        out += [
            f"{f!r}: must be empty for an unanswerable question"
            for f in ("answer", "evidence")
            if rec[f]
        ]
    else:
        out += [
            f"{f!r}: must not be empty for an answerable question"
            for f in ("answer", "source_files", "evidence")
            if not (rec[f].strip() if isinstance(rec[f], str) else rec[f])
        ]
    return out


def _locate(item: Item, corpus: _Corpus) -> tuple[tuple[tuple[Location, ...], ...], list[str]]:
    """Where each evidence string occurs in the item's source files, and problems."""
    problems = [
        f"'source_files': {name!r} is not a readable file in the corpus folder {corpus.folder}"
        for name in item.source_files
        if corpus.text(name) is None
    ]
    if problems:
        return (), problems
    locations = []
    for i, ev in enumerate(item.evidence):
        found = tuple(
            (name, a, a + len(ev))
            for name in item.source_files
            for a in _find_all(corpus.text(name) or "", ev)
        )
        if not found:
            short = ev if len(ev) <= 60 else ev[:57] + "..."
            problems.append(
                f"'evidence'[{i}]: {short!r} is not verbatim in {' or '.join(item.source_files)}"
            )
        locations.append(found)
    return tuple(locations), problems


def _find_all(text: str, needle: str) -> list[int]:
    starts, a = [], text.find(needle)
    while a >= 0:
        starts.append(a)
        a = text.find(needle, a + 1)
    return starts
