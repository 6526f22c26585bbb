"""Document batches of the ONNX encoder: bounded by padded tokens as well as by rows
(issue 17: long passages a dozen at a time keep each layer's activations in the CPU's
caches), with the same embeddings as texts embedded one at a time."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed import onnx


def test_batches_are_bounded_by_rows_and_by_padded_tokens() -> None:
    lengths = np.array([300, 200, 100, 100, 100, 100, 20, 20, 20, 20, 5])
    spans = onnx._batches(lengths, max_rows=4, max_tokens=400)
    assert spans[0] == (0, 1) and spans[1] == (1, 3)  # 300 alone, then 2 x 200 = 400
    assert [e - s for s, e in spans[2:]] == [4, 4]  # then the row cap
    assert spans[-1][1] == len(lengths) and all(
        a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False)
    )
    for s, e in spans:
        assert e - s <= 4 and ((e - s) * lengths[s] <= 400 or e - s == 1)
    assert onnx._batches(np.array([5000]), 64, 1024) == [(0, 1)]  # longer than the budget
    assert onnx._batches(np.array([], dtype=int), 64, 1024) == []


def test_token_bounded_batches_give_the_embeddings_of_single_texts(embedder) -> None:
    if embedder.backend == "torch":
        pytest.skip("onnxruntime is not installed: the PyTorch encoder batches itself")
    enc = embedder._onnx
    long = "The harbour authority reported that container traffic rose again this year. " * 6
    texts = [long, "A short one.", long[:200], "Tide tables are published weekly.", long[:90]]
    texts = texts * 8  # 40 texts: several batches under a 1,024-token budget
    lengths = sorted((len(e.ids) for e in enc._tokenizer.encode_batch(texts)), reverse=True)
    assert len(onnx._batches(np.array(lengths), 64, onnx.BATCH_TOKENS)) > 1
    batched = enc.encode(texts, batch_size=64)
    single = np.vstack([enc.encode([t], batch_size=1) for t in texts[:5]])
    assert np.allclose(batched[:5], single, atol=1e-5)
    assert np.allclose(batched[5:10], batched[:5], atol=1e-6)  # the same text, another batch
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
