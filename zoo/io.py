"""Atomic writes: a crash or a Ctrl-C leaves either the old file or the new one, never half of one.

Everything zoo writes that a later step trusts (checkpoints, metrics, caches, run files) goes
through here: the content is written to a temporary file in the same folder, flushed to disk,
then renamed over the target, which POSIX makes atomic. Temporary files are private (0600,
folders 0700) when created; they are given the permissions ``open()`` and ``mkdir()`` would give
under the process's umask (0644 and 0755 under the usual 022), so that a run or a cache can be
shared with a colleague, a CI job or a serving account.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as status:
            return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it
    os.umask(mask)
    return mask


def temporary_file(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """``(fd, name)`` of a new temporary sibling of ``path``, with the umask's permissions."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        exc.filename = str(path)  # the file meant, not the random temporary name
        raise
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, Path(tmp)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[Any]:
    """Yield a file open on a temporary sibling of ``path`` that becomes ``path`` only if the
    block completes; if it raises (or is interrupted) the sibling is removed and ``path`` is left
    as it was. For writers that produce their content piece by piece (a streamed output table)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_file(path)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, str(tmp)):
            exc.filename = str(path)  # e.g. a full disk while writing: say which file
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` by calling ``write(file)`` on a temporary sibling, then renaming it."""
    with atomic_file(path, mode) as handle:
        write(handle)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    return atomic_write(path, lambda f: f.write(text), mode="w")


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Atomically replace ``path`` with ``data`` as indented JSON."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def append_line(path: str | Path, line: str) -> None:
    """Append one line durably (``metrics.jsonl``): a crash can lose the line, never mangle one.

    The whole file is rewritten atomically; the files this is used for hold one line per epoch.
    """
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    atomic_write_text(path, old + line.rstrip("\n") + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` only if the block completes.

    An existing ``path`` is replaced. If the block raises (or is interrupted), the temporary
    folder is removed and ``path`` is left as it was, so a half-built cache never looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
