"""Operating-system errors on paths the user named: one message with the path, its origin, the error.

A location that cannot be used (a cache folder under a regular file, a read-only ``--out``, an
unreadable run) is a user's mistake, yet it surfaces deep inside zoo as a ``NotADirectoryError``
or ``PermissionError`` from whatever touched it first. Rather than catch those everywhere, each
path is noted where it enters zoo, with where it came from (``note_path(path, "--out")``): the
CLI's options, the cache root, a dataset's source. The CLI runs every command inside
:func:`path_errors`, which turns an ``OSError`` on a noted path, on anything under it or on a
folder it needs created, into a :class:`PathError`. An ``OSError`` on any other path is a bug
and keeps its traceback. Outside :func:`path_errors` (zoo used from Python) noting does nothing
and errors propagate as they are.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from zoo.errors import ZooError

_noted: ContextVar[dict[str, tuple[str, str]] | None] = ContextVar("zoo_user_paths", default=None)


class PathError(ZooError):
    """A path the user named that the operating system refuses to use."""


def note_path(path: str | os.PathLike[str] | None, origin: str) -> None:
    """Remember that ``path`` came from ``origin`` (``"--out"``, ``"ZOO_CACHE_DIR"``, ...).

    The first origin noted for a path is kept. URLs and empty values are ignored.
    """
    noted = _noted.get()
    if noted is None or path is None or not str(path).strip() or "://" in str(path):
        return
    shown = str(path)
    for key in {os.path.abspath(os.path.expanduser(shown)), os.path.realpath(os.path.expanduser(shown))}:
        noted.setdefault(key, (shown, origin))


def expand_user(path: str, origin: str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; one that cannot be is a PathError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # no such user, or no home directory to expand ~ to
        raise PathError(f"cannot use {path} ({origin}): its '~' names no home directory here") from None


@contextlib.contextmanager
def path_errors() -> Iterator[None]:
    """Within the block, an ``OSError`` on a noted path becomes a :class:`PathError` (exit 2)."""
    noted: dict[str, tuple[str, str]] = {}
    token = _noted.set(noted)
    try:
        yield
    except OSError as exc:
        message = _explain(exc, noted)
        if message is None:
            raise
        raise PathError(message) from None
    finally:
        _noted.reset(token)


def _explain(exc: OSError, noted: dict[str, tuple[str, str]]) -> str | None:
    """The message for ``exc`` if it concerns a noted path, else ``None``."""
    for filename in (exc.filename, exc.filename2):
        if filename is None or not isinstance(filename, (str, bytes, os.PathLike)):
            continue
        failed = _unstaged(os.path.abspath(os.fsdecode(filename)), noted)
        owner = _owner(failed, noted)
        if owner is not None:
            shown, origin = owner
            return f"cannot use {shown} ({origin}): {_reason(exc, failed)}"
    return None


def _unstaged(failed: str, noted: dict[str, tuple[str, str]]) -> str:
    """The noted path that ``failed`` is the staging copy of, else ``failed``: :mod:`zoo.io` writes
    a file or folder as a hidden sibling ``.NAME.XXXX.tmp`` first, then renames it into place."""
    parent, name = os.path.split(failed)
    for key in noted:
        key_parent, key_name = os.path.split(key.rstrip(os.sep))
        if parent == key_parent and name.startswith(f".{key_name}.") and name.endswith(".tmp"):
            return key
    return failed


def _owner(failed: str, noted: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The noted path ``failed`` lies in (the innermost), else one it was needed for."""
    inside = [key for key in noted if failed == key or failed.startswith(key.rstrip(os.sep) + os.sep)]
    if inside:
        return noted[max(inside, key=len)]
    # creating a noted folder's missing parents failed: the latest noted such folder
    needing = [key for key in noted if key.startswith(failed.rstrip(os.sep) + os.sep)]
    return noted[needing[-1]] if needing else None


def _reason(exc: OSError, failed: str) -> str:
    """The error in words, naming the regular file that stands where a folder is needed."""
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):  # a folder was needed where a file is
        for parent in [Path(failed), *Path(failed).parents]:
            with contextlib.suppress(OSError):
                if parent.exists() and not parent.is_dir():
                    return f"{parent} is a file, not a folder"
    return f"{exc.strerror or type(exc).__name__}: {failed}"
