"""What runs an exported model: ONNX Runtime (``model.onnx``), or torch (``model.pt2``).

An engine is called with a batch of ids ``(B, T)`` and lengths ``(B,)`` (int64 NumPy arrays) and
returns the logits as a float32 NumPy array: ``(B,)`` for a binary task, ``(B, labels)`` else.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from zoo.errors import RunError

Engine = Callable[[np.ndarray, np.ndarray], np.ndarray]


def onnx_engine(model: bytes, where: object, threads: int | None = None) -> Engine:
    """An ONNX Runtime session on ``model`` (the bytes of ``model.onnx``), CPU only.

    ``threads`` (default: the cores this process may use): each batch is cut into that many
    shards, run at once by single-threaded calls of the one session. As with zoo's own sharded
    recurrent layers (:mod:`zoo.parallel`), a recurrent layer's small time steps gain little from
    a second thread inside one call, while independent shards keep every core busy; measured in
    benchmarks/README.md. The texts are independent, so the result is the same.
    """
    import onnxruntime

    shards = max(1, threads or _cores())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are not the user's business
    try:
        # ONNX Runtime reads the external data of a model given as bytes from the current folder,
        # so a crafted model.onnx naming a file there would load the user's file as its weights.
        # zoo's exports keep every weight inside model.onnx: point ONNX Runtime at an empty folder.
        with tempfile.TemporaryDirectory(prefix="zoo-onnx-") as nowhere:
            options.add_session_config_entry("session.model_external_initializers_file_folder_path", nowhere)
            session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a model it cannot load
        if "external data" in str(exc).lower():
            raise RunError(f"{where}: its weights are in other files (ONNX external data); a zoo export keeps "
                           "them in model.onnx, so it is refused") from None
        raise RunError(f"{where}: ONNX Runtime cannot load it ({_first_line(exc)})") from None
    names = sorted(i.name for i in session.get_inputs())
    outputs = [o.name for o in session.get_outputs()]
    if names != ["ids", "lengths"] or outputs != ["logits"]:
        raise RunError(f"{where}: takes {names} and gives {outputs}; a zoo export takes ['ids', 'lengths'] "
                       "and gives ['logits']")
    pool = ThreadPoolExecutor(shards, thread_name_prefix="zoo-onnx") if shards > 1 else None

    def call(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return session.run(outputs, {"ids": ids, "lengths": lengths})[0]

    def run(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        if pool is None or len(ids) < 2:
            return call(ids, lengths)
        parts = [(ids[rows], lengths[rows]) for rows in np.array_split(np.arange(len(ids)), min(shards, len(ids)))]
        return np.concatenate(list(pool.map(lambda part: call(*part), parts)))

    return run


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def program_engine(model: bytes, where: object) -> Engine:
    """A ``torch.export`` program (the bytes of ``model.pt2``), run by torch on the CPU.

    ``torch.export.load`` rebuilds the graph from JSON naming registered torch operators, but
    reads weights, constants and example inputs with ``torch.load``, unrestricted (pickle) where
    the file asks for it: only a trusted program reaches here (see :func:`zoo.runtime.load`).
    """
    import torch

    try:
        program = torch.export.load(io.BytesIO(model)).module()
    except Exception as exc:  # torch raises many kinds for a file it cannot deserialize
        raise RunError(f"{where}: torch cannot load this torch.export program ({_first_line(exc)})") from None

    def run(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return program(torch.from_numpy(ids), torch.from_numpy(lengths)).float().numpy()

    return run


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
