"""The schemas of the shared index's three collections (issue 21; what each row holds
is described in :mod:`rag.store.milvus_state`, which creates them)."""

from __future__ import annotations

from typing import Any


def dummy_index(client: Any) -> Any:
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    return index


def state_schema(client: Any) -> Any:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("version", DataType.INT64)
    s.add_field("settings", DataType.JSON)
    s.add_field("holder", DataType.VARCHAR, max_length=256)
    s.add_field("expires", DataType.DOUBLE)
    s.add_field("counts", DataType.JSON)
    s.add_field("log", DataType.JSON)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    return s


def docs_schema(client: Any) -> Any:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=96)
    s.add_field("doc_id", DataType.VARCHAR, max_length=64)
    s.add_field("part", DataType.INT64)
    s.add_field("ver", DataType.INT64)
    s.add_field("gone", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=65535)
    s.add_field("meta", DataType.JSON)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    return s


def chunks_schema(client: Any, dim: int, full_text: bool) -> Any:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("doc_id", DataType.VARCHAR, max_length=64)
    s.add_field("ordinal", DataType.INT64)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("source", DataType.VARCHAR, max_length=2048)
    s.add_field("date", DataType.VARCHAR, max_length=32)
    s.add_field("ver", DataType.INT64)
    s.add_field("thash", DataType.VARCHAR, max_length=32)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    if full_text:
        add_bm25(s)
    return s


def add_bm25(schema: Any) -> None:
    """The lexical side in Milvus: the chunk's folded terms (``lexical``) and Milvus's BM25
    function over them (``sparse``), shared by both Milvus layouts' chunk schemas."""
    from pymilvus import DataType, Function, FunctionType

    schema.add_field("lexical", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["lexical"],
            output_field_names=["sparse"],
        )
    )
