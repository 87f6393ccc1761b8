"""Reading and extracting tar archives without trusting them.

Every member is checked before anything is read or written: absolute paths, ``..`` components,
symbolic or hard links that point outside the archive's root, and device or FIFO entries make
the whole archive refused with a :class:`DataError` naming the member; so does an archive of
more members, or more uncompressed bytes, than the caller allows. Extraction additionally
uses Python's ``filter="data"`` and happens inside :func:`zoo.io.atomic_directory`, so a refused,
corrupt or interrupted extraction leaves nothing behind: neither outside the target (the checks)
nor a half-filled target that would later look complete (the atomic rename).
"""

from __future__ import annotations

import contextlib
import gzip
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from zoo.errors import DataError
from zoo.io import atomic_directory, current_umask

#: What reading a broken archive raises, depending on where it breaks.
_CORRUPT = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


def _corrupt(archive: Path, exc: BaseException, hint: str) -> DataError:
    detail = str(exc) or type(exc).__name__
    return DataError(
        f"{archive} is not a readable tar archive, or it is truncated or corrupt ({detail}). "
        + (hint or "Download it again.")
    )


def unsafe_reason(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` must not be trusted (a path or link leaving the root, a device), or None."""
    name = member.name
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "has a '..' path component"
    if member.issym() or member.islnk():
        link = member.linkname.replace("\\", "/")
        if not link or link.startswith("/") or (len(link) > 1 and link[1] == ":"):
            return f"is a link to the absolute path {member.linkname!r}"
        # A symlink is relative to its own folder, a hard link to the archive root.
        base = posixpath.dirname(name.replace("\\", "/")) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, link))
        if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
            return f"is a link to {member.linkname!r}, outside the archive"
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        return "is a device or FIFO entry"
    return None


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Raise :class:`DataError` if ``member`` of ``archive`` is unsafe."""
    reason = unsafe_reason(member)
    if reason:
        raise DataError(
            f"{archive}: refusing unsafe archive member {member.name!r}, which {reason}; "
            "the archive was not used. Use the official archive or an extracted folder."
        )


@contextlib.contextmanager
def open_archive(archive: str | Path, hint: str = "") -> Iterator[tarfile.TarFile]:
    """Open a (compressed) tar archive, turning a missing or corrupt file into a DataError."""
    archive = Path(archive)
    try:
        handle = tarfile.open(archive, "r:*")
    except FileNotFoundError:
        raise DataError(f"archive {archive} does not exist. {hint}".strip()) from None
    except IsADirectoryError:
        raise DataError(f"{archive} is a folder, not an archive. {hint}".strip()) from None
    except PermissionError:
        raise DataError(f"cannot read {archive}: permission denied") from None
    except _CORRUPT as exc:
        raise _corrupt(archive, exc, hint) from None
    try:
        yield handle
    finally:
        handle.close()


class _Bounds:
    """Counts an archive's members and their bytes, refusing it past ``max_members`` or ``max_total_bytes``.

    An archive's headers say how large each member is before it is read, so a "zip bomb" of
    compressible texts is refused after reading at most ``max_total_bytes``, never gigabytes more.
    """

    def __init__(self, archive: Path, max_members: int | None, max_total_bytes: int | None) -> None:
        self.archive, self.max_members, self.max_total_bytes = archive, max_members, max_total_bytes
        self.members = self.total = 0

    def add(self, member: tarfile.TarInfo) -> None:
        self.members, self.total = self.members + 1, self.total + max(member.size, 0)
        if self.max_members is not None and self.members > self.max_members:
            raise DataError(f"{self.archive} holds more than {self.max_members:,} members (the dataset's max_files); "
                            "refusing it. Is it really the dataset's archive?")
        if self.max_total_bytes is not None and self.total > self.max_total_bytes:
            raise DataError(f"{self.archive}: its members add up to more than {self.max_total_bytes:,} bytes "
                            "uncompressed (the dataset's max_total_bytes); refusing it. Is it really the dataset's archive?")


def iter_files(
    archive: str | Path,
    wanted: Callable[[str], bool],
    *,
    max_bytes: int | None = None,
    max_members: int | None = None,
    max_total_bytes: int | None = None,
    contents: bool = True,
    hint: str = "",
) -> Iterator[tuple[str, bytes | None]]:
    """Yield ``(name, content)`` for each regular file of ``archive`` whose name ``wanted`` accepts
    (``content`` is ``None`` when not ``contents``: the names alone, nothing read).

    Reads the archive in one pass without writing anything; every member, wanted or not, is
    checked with :func:`check_member` first and counted against ``max_members`` and
    ``max_total_bytes`` (uncompressed). A wanted file larger than ``max_bytes`` is refused.
    """
    archive = Path(archive)
    bounds = _Bounds(archive, max_members, max_total_bytes)
    with open_archive(archive, hint) as tf:
        try:
            for member in tf:
                check_member(archive, member)
                bounds.add(member)
                if not member.isfile() or not wanted(member.name):
                    continue
                if max_bytes is not None and member.size > max_bytes:
                    raise DataError(
                        f"{archive}: member {member.name!r} is {member.size / 1e6:.1f} MB, more than "
                        f"the {max_bytes / 1e6:.1f} MB allowed for one text (is it really a review?)"
                    )
                if not contents:
                    yield member.name, None
                    continue
                handle = tf.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    continue
                yield member.name, handle.read()
        except DataError:
            raise
        except _CORRUPT as exc:
            raise _corrupt(archive, exc, hint) from None


def _data_filter_under_umask(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """Python's ``data`` filter, then the umask on the member's mode, as ``tar`` does for a user."""
    member = tarfile.data_filter(member, dest)
    return member if member.mode is None else member.replace(mode=member.mode & ~current_umask(), deep=False)


def safe_extract(archive: str | Path, target: str | Path, *, hint: str = "", max_members: int | None = None,
                 max_total_bytes: int | None = None) -> Path:
    """Extract ``archive`` into the folder ``target``, atomically and refusing unsafe members
    (and more than ``max_members`` members or ``max_total_bytes`` uncompressed bytes).

    ``target`` appears only once everything is extracted; on any error it is left as it was
    (absent, or a previous complete extraction) and the partial files are removed.
    """
    archive, target = Path(archive), Path(target)
    bounds = _Bounds(archive, max_members, max_total_bytes)
    with atomic_directory(target) as tmp, open_archive(archive, hint) as tf:
        try:
            for member in tf:
                check_member(archive, member)
                bounds.add(member)
                tf.extract(member, tmp, filter=_data_filter_under_umask)
        except DataError:
            raise
        except tarfile.FilterError as exc:
            raise DataError(
                f"{archive}: refusing unsafe archive member ({exc}); the archive was not used"
            ) from None
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _corrupt(archive, exc, hint) from None
        except OSError as exc:
            raise DataError(f"cannot extract {archive} into {target.parent}: {exc}") from None
    return target
