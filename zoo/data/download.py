"""Downloading a file once into the cache: progress bar, checksum, atomic rename.

The bytes go to a temporary file next to the destination, are hashed on the way, and are
renamed into place only when complete and (if a checksum is known) verified; an interrupted or
corrupt download therefore never leaves a file that a later run would take for the real one.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from zoo.console import safe
from zoo.errors import DataError
from zoo.io import temporary_file

URL_SCHEMES = ("http://", "https://", "ftp://")
CHUNK = 1 << 20
_OFFLINE: contextvars.ContextVar[str | None] = contextvars.ContextVar("zoo_offline", default=None)


@contextlib.contextmanager
def no_downloads(reason: str):
    """Within this context :func:`download` refuses to fetch anything (a file already there is
    still used), raising a :class:`DataError` that gives ``reason``: for work that may use data
    when it is at hand but must never go and get it (an export's self-check)."""
    token = _OFFLINE.set(reason)
    try:
        yield
    finally:
        _OFFLINE.reset(token)


def is_url(source: str) -> bool:
    """Whether ``source`` names an address to download rather than a local path."""
    return source.strip().lower().startswith(URL_SCHEMES)


def file_url_path(source: str) -> str | None:
    """The local path a ``file:`` URL names (``None`` for anything else).

    Such a URL is treated as the path it names, with every check a path gets, rather than
    "downloaded": a received spec's ``file://`` source must not copy arbitrary files unchecked.
    """
    if not source.strip().lower().startswith("file:"):
        return None
    parts = urllib.parse.urlsplit(source.strip())
    if parts.netloc not in ("", "localhost"):
        raise DataError(f"{source}: a file URL on another host ({parts.netloc}) cannot be read; give a local path")
    return urllib.request.url2pathname(parts.path)


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    hint: str = "",
    console: Any = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest`` unless it is already there; return ``dest``.

    ``sha256``, when given, must match or the download is discarded with a :class:`DataError`.
    ``hint`` is appended to network error messages (what the user can do instead).
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    if _OFFLINE.get() is not None:
        raise DataError(f"{url} is not downloaded: {_OFFLINE.get()}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_file(dest, suffix=".part")
    try:
        digest = hashlib.sha256()
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - user's URL
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DataError(f"cannot download {url}: {reason}. {hint}".strip()) from None
        with response, os.fdopen(fd, "wb") as out:
            fd = -1
            total = _content_length(response)
            with _progress(console, f"downloading {safe(dest.name)}", total) as advance:
                try:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        advance(len(chunk))
                except (urllib.error.URLError, OSError) as exc:
                    raise DataError(
                        f"download of {url} failed part-way: {exc}. {hint}".strip()
                    ) from None
            out.flush()
            os.fsync(out.fileno())
        if total is not None and tmp.stat().st_size != total:
            raise DataError(
                f"download of {url} is incomplete ({tmp.stat().st_size} of {total} bytes); "
                f"try again. {hint}".strip()
            )
        actual = digest.hexdigest()
        if sha256 and actual.lower() != sha256.lower():
            raise DataError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; "
                f"the download was discarded. Try again, or {hint or 'use a local copy'}"
            )
        os.replace(tmp, dest)
        return dest
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _content_length(response: Any) -> int | None:
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        value = response.headers.get("Content-Length")
        return int(value) if value is not None else None
    return None


@contextlib.contextmanager
def _progress(console: Any, description: str, total: int | None):
    """A rich download bar on a terminal; one line at start and end otherwise."""
    from rich.console import Console

    console = console or Console(stderr=True)
    if not console.is_terminal:
        start = time.perf_counter()
        done = [0]
        console.print(f"{description} ...", highlight=False)
        yield lambda n: done.__setitem__(0, done[0] + n)
        seconds = time.perf_counter() - start
        console.print(f"{description}: {done[0] / 1e6:.1f} MB in {seconds:.1f} s", highlight=False)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
