"""Stage 2, embed: chunk and query text -> vectors (sentence-transformers, ONNX fp32/int8, the converted multilingual e5)."""
