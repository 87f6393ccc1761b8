"""Where zoo keeps what it downloads and prepares, and a lock so two processes build it once.

``ZOO_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``. Everything under it
can be deleted at any time; it is rebuilt on demand. Every entry is written through
:mod:`zoo.io` (a temporary sibling renamed into place), so an entry that exists is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.user_paths import expand_user, note_path


def cache_dir() -> Path:
    """The root of zoo's cache (not created here), noted with its origin for error messages."""
    env = os.environ.get("ZOO_CACHE_DIR", "").strip()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if env:
        root, origin = expand_user(env, "ZOO_CACHE_DIR"), "ZOO_CACHE_DIR"
    elif xdg:
        origin = "XDG_CACHE_HOME; set ZOO_CACHE_DIR to use another"
        root = expand_user(xdg, origin) / "zoo"
    else:
        origin = "the default cache; set ZOO_CACHE_DIR to use another"
        root = expand_user("~/.cache/zoo", origin)
    note_path(root, origin)
    return root


def stable_hash(data: Any, length: int = 20) -> str:
    """A short hex digest of JSON-able ``data``, independent of dict order and of the process."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the block.

    Used so that several processes preparing the same data (the ranks of a distributed run, two
    terminals) build a cache entry once and the others wait and then read it. Where ``fcntl`` is
    unavailable the block simply runs unlocked; the atomic writes still keep the cache whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
