"""Stage 3, store: the vector-store interface, FAISS and Milvus behind it, the BM25 index, and the persisted index (build, write, load)."""
