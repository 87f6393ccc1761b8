"""Nested training state as one safetensors file: tensors in its body, the rest as JSON in its header.

A checkpoint is a tree of plain data (epoch, task, history, optimizer hyperparameters...) with
tensors at its leaves (weights, optimizer moments, random generator states). Written here, each
tensor goes into the safetensors body under its path in the tree (``model/embedding.weight``,
``optimizer/state/0/exp_avg``, ``rng/0/cpu``) and the tree itself, with ``{"__tensor__": path}``
in place of each tensor, goes into the header's metadata as JSON. Reading one back parses JSON
and raw little-endian arrays only: nothing is unpickled, nothing runs. One file per checkpoint, so
an atomic write replaces the whole state at once.

JSON keeps floats exactly (shortest round-trip repr), turns tuples into lists and integer keys
into strings; :mod:`zoo.runfiles` validates the tree read back and coerces those keys again.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from zoo.errors import RunError

FORMAT = "zoo-state"
VERSION = "1"
_TENSOR = "__tensor__"


def encode(state: Any) -> bytes:
    """The safetensors bytes of ``state`` (dicts, lists, plain values and tensors)."""
    import torch
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, path: str) -> Any:
        prefix = f"{path}/" if path else ""
        if isinstance(node, torch.Tensor):
            # a private contiguous CPU copy: safetensors refuses tensors that share memory
            tensors[path] = node.detach().to("cpu", copy=True).contiguous()
            return {_TENSOR: path}
        if isinstance(node, dict):
            return {str(key): walk(value, f"{prefix}{key}") for key, value in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(value, f"{prefix}{i}") for i, value in enumerate(node)]
        return node

    tree = walk(state, "")
    metadata = {"format": FORMAT, "version": VERSION, "state": json.dumps(tree)}
    return save(tensors, metadata)


def header(data: bytes, where: Any) -> dict[str, Any]:
    """The JSON header of safetensors ``data`` (torch-free; every entry but ``__metadata__`` a tensor)."""
    if len(data) < 8:
        raise RunError(f"{where}: not a safetensors file (only {len(data)} bytes)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8:
        raise RunError(f"{where}: not a safetensors file (its header claims {size:,} bytes; the file has "
                       f"{len(data):,})")
    try:
        parsed = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RunError(f"{where}: not a safetensors file (its header is not JSON: {exc})") from None
    if not isinstance(parsed, dict):
        raise RunError(f"{where}: not a safetensors file (its header is not a JSON object)")
    return parsed


def decode(data: bytes, where: Any) -> Any:
    """The state :func:`encode` wrote, from its bytes; a :class:`RunError` naming ``where`` otherwise."""
    metadata = header(data, where).get("__metadata__") or {}
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RunError(f"{where}: a safetensors file, but not a zoo checkpoint (no '{FORMAT}' metadata)")
    if metadata.get("version") != VERSION:
        raise RunError(f"{where}: zoo checkpoint version {metadata.get('version')!r}; this zoo reads version {VERSION}")
    try:
        tree = json.loads(metadata.get("state", ""))
    except (ValueError, RecursionError) as exc:
        raise RunError(f"{where}: its state is not JSON ({exc})") from None
    tensors = load_tensors(data, where)
    used: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {_TENSOR}:
                name = node[_TENSOR]
                if not isinstance(name, str) or name not in tensors:
                    raise RunError(f"{where}: its state refers to a tensor {name!r} that the file does not hold")
                used.add(name)
                return tensors[name]
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    state = walk(tree)
    unused = sorted(set(tensors) - used)
    if unused:
        raise RunError(f"{where}: holds tensors its state does not use ({', '.join(unused[:5])})")
    return state


def load_tensors(data: bytes, where: Any) -> dict[str, Any]:
    """The tensors of safetensors ``data`` (torch), or a :class:`RunError` naming ``where``."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return load(data)
    except (SafetensorError, ValueError, TypeError) as exc:
        raise RunError(f"{where}: not a readable safetensors file ({exc})") from None
