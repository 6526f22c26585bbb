"""Stage 1, ingest: files -> :class:`~rag.types.Document` (readers, dates) -> chunks with character offsets; uploads add files safely."""
