"""Benchmarks: speed and memory against a stock baseline in the same run (seeds, synthetic scales, Milvus)."""
