"""Errors with messages a user can act on: what went wrong and what to do."""

from __future__ import annotations


class RagError(Exception):
    """Base class: every error the CLI turns into a one-line message and exit code 2."""


class ConfigError(RagError):
    """A setting has an invalid value."""


class QueryError(RagError):
    """The question or query cannot be used (empty, too long, ...)."""


class CorpusError(RagError):
    """The corpus folder is missing, empty, or a file in it cannot be read."""


class UnreadableFileError(CorpusError):
    """One file cannot be read as text (binary, bad encoding, unsupported type)."""


class IndexMissingError(RagError):
    """No index has been built yet."""


class IndexCorruptError(RagError):
    """The index on disk is truncated, corrupt or from an incompatible format."""


class StoreError(RagError):
    """The vector store failed a request (a Milvus server down, a collection dropped by a
    re-index in another process, ...)."""


class ModelLoadError(RagError):
    """A model (embedding or LLM) cannot be loaded offline."""


class BackendError(RagError):
    """A generation backend failed (server down, timeout, bad output).

    ``kind`` says how, for callers that react differently: ``"unreachable"`` (no
    connection, or it broke), ``"timeout"``, ``"http"`` (an error status), ``"empty"``
    (no completion in the reply), ``"busy"`` (waited too long for its turn),
    ``"crashed"`` (the model's process died) or ``"failed"`` (anything else).
    """

    def __init__(self, message: str, *, kind: str = "failed") -> None:
        super().__init__(message)
        self.kind = kind
