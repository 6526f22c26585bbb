"""Stage 4, retrieve: question -> ranked passages (dense + BM25 fusion, filters by source and date)."""
