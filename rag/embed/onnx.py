"""The ONNX Runtime encoder: the sentence-transformers model exported once to ONNX,
graph-fused (attention, LayerNorm, GELU) and quantised to int8 (per-channel weights),
run with the ``tokenizers`` library, without importing torch.

The export is cached under ``$RAG_ONNX_CACHE`` (default ``~/.cache/rag/onnx``), made
once (about 15 s, needs torch and transformers), and checked against the PyTorch model
when made (cosine >= :data:`MIN_EXPORT_COSINE` on probe sentences).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.models import load_sentence_transformer, offline_env, resolve_model
from rag.errors import ModelLoadError

EXPORT_VERSION = "3"  # bump when the export recipe changes: old cached files are not reused
STATIC_VERSION = "1"  # the static int8 recipe (its file name carries it: model-qdq-v1.onnx)
CALIBRATION_FILE = Path(__file__).with_name("calibration.txt")  # dev-split texts only
BATCH_TOKENS = 1024  # padded tokens per document batch (see OnnxEncoder.encode)
MIN_EXPORT_COSINE = 0.98  # an export whose embeddings drift further from PyTorch is refused
_PROBES = (
    "How many hotline calls did the two border forces make in 2025?",
    "Border guard forces held talks to review coordination in border management.",
    "The quick brown fox jumps over the lazy dog.",
    "Trade through the border gate rose sharply, officials said on Tuesday, citing customs data "
    "for the first nine months of the year and a new smart border gate pilot.",
)


def onnx_cache_dir() -> Path:
    """Where exported ONNX models live: ``$RAG_ONNX_CACHE`` or ``~/.cache/rag/onnx``."""
    env = os.environ.get("RAG_ONNX_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag" / "onnx"


class OnnxEncoder:
    """A sentence-transformers model (Transformer + mean Pooling + Normalize) on ONNX Runtime.

    Sessions share the file: one single-threaded for queries (no thread hand-off for a
    few dozen tokens) and one using every core for batches of documents, per thread
    niceness: a thread that lowered its priority (:func:`lower_thread_priority`, the
    app's background indexing) gets its own document session, created in that thread so
    that ONNX Runtime's pool threads inherit the lower priority and questions answered
    meanwhile keep the CPU.
    """

    def __init__(self, model_file: Path, folder: Path, max_length: int, dim: int) -> None:
        from tokenizers import Tokenizer

        self.model_file = model_file
        self.dim = dim
        self.max_length = max_length
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        self._pad_id = int(self._tokenizer.token_to_id("[PAD]") or 0)
        self._query = self._session(threads=1)
        self._docs: dict[int, Any] = {}  # thread niceness -> document session
        self._docs_lock = threading.Lock()
        self._names = {i.name for i in self._query.get_inputs()}

    @classmethod
    def for_model(cls, name: str, *, precision: str = "fp32") -> OnnxEncoder:
        """The encoder for a model name or folder, exporting it on first use (offline).

        ``precision`` "fp32" (the fused float graph: PyTorch's numbers), "int8"
        (dynamic: weights quantised per channel, activations per batch; about twice as
        fast, embeddings within ~2%) or "qdq" (static: activations calibrated once on
        :data:`CALIBRATION_FILE`, the feed-forward output layers kept in fp32; made on
        first use, about a minute).
        """
        offline_env()
        try:
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError as exc:
            raise ModelLoadError(
                f"the onnx backend needs onnxruntime and tokenizers: {exc}"
            ) from None
        folder = Path(resolve_model(name))
        spec = _onnx_spec(folder)
        model_file = export_onnx(folder)
        if precision == "fp32":
            model_file = model_file.with_name("model-fp32.onnx")
        elif precision == "qdq":
            model_file = export_static_int8(folder, model_file.parent)
        return cls(model_file, folder, spec["max_length"], spec["dim"])

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # No busy-waiting after a run: on 2 cores a spinning pool steals the CPU from the
        # FAISS/BM25/Python work that follows each embedding.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(
                str(self.model_file), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load the ONNX model {self.model_file} ({type(exc).__name__}: "
                f"{str(exc)[:160]}); delete it to re-export, or set RAG_EMBED_BACKEND=torch"
            ) from None

    def _doc_session(self) -> Any:
        """The batch session for the calling thread's priority, created on first use."""
        nice = thread_niceness()
        session = self._docs.get(nice)
        if session is None:
            with self._docs_lock:
                session = self._docs.get(nice)
                if session is None:
                    session = self._docs[nice] = self._session(threads=max(1, os.cpu_count() or 1))
        return session

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: bool | Callable[[int, int], None] = False,
        single: bool = False,
    ) -> np.ndarray:
        """Embeddings of ``texts`` (float32, normalised), batched by similar length.

        A batch holds at most ``batch_size`` texts and about :data:`BATCH_TOKENS` tokens
        (at least one text): long passages go a dozen at a time, so that each layer's
        activations stay in the CPU's caches (64 passages of ~100 tokens took ~15% more
        CPU time per passage than 8-16 on a 2-core AVX2 EPYC), sentences and short
        questions still go many at a time.
        """
        encs = self._tokenizer.encode_batch([str(t).strip() for t in texts])
        lengths = np.array([len(e.ids) for e in encs])
        order = np.argsort(-lengths, kind="stable")  # similar lengths together: little padding
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        session = self._query if single or len(texts) == 1 else self._doc_session()
        spans = _batches(lengths[order], max(1, batch_size), BATCH_TOKENS)
        report = progress if callable(progress) else None
        if progress is True:
            from tqdm import tqdm

            spans = tqdm(spans, desc="Batches", unit="batch")  # as sentence-transformers
        for s, e in spans:
            rows = order[s:e]
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                n = lengths[r]
                ids[j, :n] = encs[r].ids
                mask[j, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            out[rows] = session.run(None, feeds)[0]
            if report is not None:
                report(e, len(texts))
        return out


def _batches(sorted_lengths: np.ndarray, max_rows: int, max_tokens: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive batches over texts sorted longest first: at most
    ``max_rows`` texts each, and no more padded tokens (rows x the first, longest
    row's length) than ``max_tokens`` unless one text alone is longer."""
    out, s, n = [], 0, len(sorted_lengths)
    while s < n:
        rows = max(1, min(max_rows, max_tokens // max(1, int(sorted_lengths[s]))))
        out.append((s, min(n, s + rows)))
        s += rows
    return out


def thread_niceness() -> int:
    """How much lower than the process's main thread the calling thread runs (0: the same).

    Linux keeps a niceness per thread (``PRIO_PROCESS`` with a thread id); elsewhere 0.
    """
    try:
        own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return max(0, own - os.getpriority(os.PRIO_PROCESS, os.getpid()))
    except (OSError, AttributeError):
        return 0


def lower_thread_priority(step: int = 10) -> bool:
    """Lower the calling thread's CPU priority by ``step`` (once; True if it is lowered).

    For a dedicated background thread (indexing uploads): it cannot be raised back
    without privileges, so never call it on a thread that later serves questions.
    """
    if thread_niceness() > 0:
        return True
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + step)
    except (OSError, AttributeError):
        return False
    return thread_niceness() > 0


def _onnx_spec(folder: Path) -> dict[str, Any]:
    """Check ``folder`` is a model the ONNX export reproduces; its max length and dimension."""
    if not (folder / "tokenizer.json").is_file() or not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder} is not a local model folder with tokenizer.json")
    try:
        modules = json.loads((folder / "modules.json").read_text("utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pool_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((folder / pool_dir / "config.json").read_text("utf-8"))
        st_cfg = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ModelLoadError(f"{folder}: not a sentence-transformers folder ({exc})") from None
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v
        for k, v in pooling.items()
        if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    )
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or kinds[2:] not in ([], ["Normalize"])
        or not mean_only
    ):
        raise ModelLoadError(f"{folder}: only Transformer + mean Pooling models export to ONNX")
    return {
        "max_length": int(st_cfg.get("max_seq_length") or 256),
        "dim": int(pooling.get("word_embedding_dimension") or config["hidden_size"]),
        "heads": int(config.get("num_attention_heads", 12)),
        "hidden": int(config.get("hidden_size", 384)),
        "model_type": str(config.get("model_type", "bert")),
    }


def _fingerprint(folder: Path) -> str:
    """Identifies the model files (names, sizes, mtimes) and the export recipe."""
    h = hashlib.blake2b(digest_size=8)
    h.update(EXPORT_VERSION.encode())
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".txt"}:
            st = p.stat()
            h.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def export_onnx(folder: Path, cache_dir: Path | None = None) -> Path:
    """The int8 ONNX file for ``folder`` (``model-fp32.onnx`` beside it), exported once.

    Steps: trace the PyTorch model with mean pooling and normalisation to ONNX, fuse
    attention/LayerNorm/GELU (ONNX Runtime's transformer optimiser), quantise the
    weights to int8 per channel, then check the result against PyTorch on probe
    sentences. Written through temp files and a rename, under a lock, so concurrent
    processes export once.
    """
    folder = Path(folder)
    spec = _onnx_spec(folder)
    target_dir = (cache_dir or onnx_cache_dir()) / f"{folder.name}-{_fingerprint(folder)}"
    target = target_dir / "model-int8.onnx"
    if target.is_file() and target.with_name("model-fp32.onnx").is_file():
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    with open(target_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and target.with_name("model-fp32.onnx").is_file():
            return target  # another process exported it while we waited
        try:
            _export(folder, spec, target)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(
                f"cannot export {folder} to ONNX ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
    return target


def _export(folder: Path, spec: dict[str, Any], target: Path) -> None:
    """Export ``folder``'s model to ``target`` (int8) and ``model-fp32.onnx`` next to it,
    checked against PyTorch first; nothing is left behind when a step fails."""
    tmp = target.parent / f".export-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    root_log = logging.getLogger()
    level = root_log.level
    root_log.setLevel(logging.ERROR)  # the quantiser logs advice at WARNING on the root logger
    try:
        fp32 = _export_fp32(folder, tmp / "model.onnx")
        fused = _fuse(fp32, spec, tmp / "model-fused.onnx")
        int8 = _quantize(fused, tmp / "model-int8.onnx")
        cos = _export_cosines(folder, spec, {"fp32": fused, "int8": int8})
        meta = {
            "source": str(folder),
            "export_version": EXPORT_VERSION,
            "fused": fused != fp32,
            "quantization": "int8 dynamic, per-channel weights",
            "probe_min_cosine": {k: round(v, 6) for k, v in cos.items()},
            **spec,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), "utf-8")
        os.replace(tmp / "meta.json", target.parent / "meta.json")
        os.replace(fused, target.with_name("model-fp32.onnx"))
        os.replace(int8, target)
    finally:
        root_log.setLevel(level)
        _remove_folder(tmp)


def _export_fp32(folder: Path, out: Path) -> Path:
    """The PyTorch model with mean pooling and L2 normalisation, traced to ONNX."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            h = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2.0, dim=-1)

    ids = torch.ones(2, 8, dtype=torch.long)
    axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}}
    axes["token_type_ids"] = {0: "b", 1: "s"}
    axes["embedding"] = {0: "b"}
    with warnings.catch_warnings(), contextlib.redirect_stderr(open(os.devnull, "w")):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (ids, ids, torch.zeros_like(ids)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return out


def _fuse(fp32: Path, spec: dict[str, Any], out: Path) -> Path:
    """ONNX Runtime's transformer graph fusions; the unfused graph when they fail (the
    optimiser is an optional speed-up)."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        opt = optimize_model(
            str(fp32),
            model_type=spec["model_type"] if spec["model_type"] == "bert" else "bert",
            num_heads=spec["heads"],
            hidden_size=spec["hidden"],
            opt_level=1,
        )
        opt.save_model_to_file(str(out))
    except Exception:
        return fp32
    return out


def _quantize(fused: Path, out: Path) -> Path:
    """Dynamic int8 quantisation with per-channel weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fused),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": 1},  # FLOAT, for fused ops shape inference skips
    )
    return out


def _export_cosines(folder: Path, spec: dict[str, Any], paths: dict[str, Path]) -> dict[str, float]:
    """The lowest cosine between each exported model and PyTorch on the probe sentences;
    :class:`ModelLoadError` when one drifts (before anyone uses it)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(spec["max_length"])
    tok.enable_padding(pad_id=int(tok.token_to_id("[PAD]") or 0))
    enc = tok.encode_batch(list(_PROBES))
    feeds = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
    }
    feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
    want = load_sentence_transformer(str(folder)).encode(list(_PROBES), normalize_embeddings=True)
    cos = {}
    for name, path in paths.items():
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = {i.name for i in sess.get_inputs()}
        got = sess.run(None, {k: v for k, v in feeds.items() if k in names})[0]
        cos[name] = float((got * want).sum(1).min())
    floor = {"fp32": 0.9999, "int8": MIN_EXPORT_COSINE}
    if any(cos[k] < floor[k] for k in cos):
        raise ModelLoadError(
            f"the ONNX export of {folder} differs from PyTorch (cosine {cos}); "
            "set RAG_EMBED_BACKEND=torch"
        )
    return cos


def export_static_int8(folder: Path, target_dir: Path) -> Path:
    """The statically quantised int8 model (QDQ) beside the other exports, made once.

    Every MatMul that multiplies by a weight is int8 (weights per channel, activations
    with ranges calibrated on :data:`CALIBRATION_FILE`) except the feed-forward output
    layers (after GELU): their inputs have outliers that per-tensor activation scales
    cannot hold (all layers int8: cosine to fp32 0.67-0.90; those six in fp32: 0.99).
    Attention scores stay fp32. Checked against PyTorch like the other exports.
    """
    folder = Path(folder)
    target = target_dir / f"model-qdq-v{STATIC_VERSION}.onnx"
    if target.is_file():
        return target
    with open(target_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        tmp = target_dir / f".static-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        root_log = logging.getLogger()
        level = root_log.level
        root_log.setLevel(logging.ERROR)
        try:
            spec = _onnx_spec(folder)
            fp32 = _export_fp32(folder, tmp / "model.onnx")
            _quantize_static(fp32, folder, spec, tmp / "model-qdq.onnx")
            cos = _export_cosines(folder, spec, {"int8": tmp / "model-qdq.onnx"})
            meta_path = target_dir / "meta.json"
            with contextlib.suppress(OSError, ValueError):
                meta = json.loads(meta_path.read_text("utf-8"))
                meta["static_int8"] = {
                    "file": target.name,
                    "calibration": f"{CALIBRATION_FILE.name} (dev splits only)",
                    "fp32_layers": "feed-forward output MatMuls, attention scores",
                    "probe_min_cosine": round(cos["int8"], 6),
                }
                meta_path.write_text(json.dumps(meta, indent=2), "utf-8")
            os.replace(tmp / "model-qdq.onnx", target)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(
                f"cannot quantise {folder} statically ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
        finally:
            root_log.setLevel(level)
            _remove_folder(tmp)
    return target


def _calibration_texts() -> list[str]:
    lines = CALIBRATION_FILE.read_text("utf-8").splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]


def _quantize_static(fp32: Path, folder: Path, spec: dict[str, Any], out: Path) -> None:
    """QDQ static quantisation of the unfused graph (see :func:`export_static_int8`)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(spec["max_length"])
    names = {i.name for i in onnx.load(str(fp32), load_external_data=False).graph.input}

    def feeds(text: str) -> dict[str, np.ndarray]:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        f = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        f["token_type_ids"] = np.zeros_like(ids)
        return {k: v for k, v in f.items() if k in names}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(_calibration_texts())

        def get_next(self) -> dict[str, np.ndarray] | None:
            text = next(self._it, None)
            return None if text is None else feeds(text)

    graph = onnx.load(str(fp32)).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    keep: list[str] = []  # fp32: attention scores, and the down projections after GELU
    for n in graph.node:
        if n.op_type != "MatMul":
            continue
        shape = shapes.get(n.input[1])
        if shape is None or len(shape) != 2 or shape[0] > shape[1]:
            keep.append(n.name)
    quantize_static(
        str(fp32),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=keep,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"WeightSymmetric": True, "DefaultTensorType": 1},
    )


def _remove_folder(tmp: Path) -> None:
    """Delete an export's scratch folder and what a failed step left in it."""
    for p in tmp.glob("*"):
        with contextlib.suppress(OSError):
            p.unlink()
    with contextlib.suppress(OSError):
        tmp.rmdir()
