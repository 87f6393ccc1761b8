"""A pack: one zip file of an export folder, to share; and unpacking one without trusting it.

A pack is received data. :func:`unpack` reads nothing but the files an export holds
(:data:`zoo.runtime.files.FILES`, at the top of the archive): a member with any other name, a
folder, a path with ``..`` or a leading ``/``, a symbolic link or any other special member, a
repeated name, more members than an export has, or more bytes than :data:`zoo.limits.MAX_PACK_BYTES`
(counted while inflating, whatever the headers claim), or a member that inflates more than
:data:`MAX_RATIO` times (a zip bomb) is refused, naming the pack and the member, and nothing is
left behind: the files are written into a fresh temporary folder that becomes the target only
once every member is in. Torch-free (the runtime opens packs).
"""

from __future__ import annotations

import contextlib
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from zoo.errors import RunError
from zoo.io import atomic_directory, atomic_file
from zoo.limits import MAX_PACK_BYTES
from zoo.runfiles import open_file
from zoo.runtime.files import FILES, is_export_folder, manifest

#: The most a member may inflate relative to its compressed size (weights barely compress; a
#: vocabulary about 4 times; a zip bomb a thousand times or more).
MAX_RATIO = 100
_CHUNK = 1 << 20


def pack(folder: str | Path, out: str | Path) -> Path:
    """Write the export ``folder`` as the zip file ``out`` (atomically); returns ``out``."""
    folder, out = Path(folder), Path(out)
    if not is_export_folder(folder):
        raise RunError(f"{folder} is not an export folder (no export.json); make one with zoo export")
    manifest(folder)  # refuse a damaged export before packing it
    with atomic_file(out) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            path = folder / name
            if path.exists() or path.is_symlink():
                with open_file(path, MAX_PACK_BYTES, folder) as source, archive.open(name, "w", force_zip64=True) as member:
                    while chunk := source.read(_CHUNK):
                        member.write(chunk)
    return out


def is_pack(path: str | Path) -> bool:
    """Whether ``path`` is a file that starts like a zip archive."""
    path = Path(path)
    return path.is_file() and zipfile.is_zipfile(path)


def unpack(source: str | Path, target: str | Path, max_bytes: int = MAX_PACK_BYTES) -> Path:
    """Unpack the pack ``source`` into the new folder ``target`` (see the module docstring)."""
    source, target = Path(source), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RunError(f"{target} already exists; unpack into a new folder")
    with atomic_directory(target) as staging:
        _extract(source, staging, max_bytes)
    return target


@contextlib.contextmanager
def unpacked(source: str | Path, max_bytes: int = MAX_PACK_BYTES) -> Iterator[Path]:
    """The pack ``source`` unpacked into a private temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="zoo-pack-") as folder:
        yield unpack(source, Path(folder) / "export", max_bytes)


def _extract(source: Path, folder: Path, max_bytes: int) -> None:
    try:
        with open_file(source, 1 << 62) as handle, zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            if len(members) > len(FILES):
                raise RunError(f"{source}: {len(members):,} members; an export pack holds at most {len(FILES)}")
            seen: set[str] = set()
            total = 0
            for member in members:
                _check_member(source, member, seen)
                total += _copy(source, archive, member, folder / member.filename, max_bytes - total)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # corrupt, truncated, encrypted or compressed in a way zipfile does not read
        raise RunError(f"{source}: not a readable zip file ({exc})") from None
    if not is_export_folder(folder):
        raise RunError(f"{source}: holds no export.json; not an export pack")


def _check_member(source: Path, member: zipfile.ZipInfo, seen: set[str]) -> None:
    name = member.filename
    kind = stat.S_IFMT(member.external_attr >> 16)
    if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name:
        raise RunError(f"{source}: member {name!r} leads out of the folder it is unpacked into; refused")
    if member.is_dir() or kind not in (0, stat.S_IFREG):
        what = "a folder" if member.is_dir() else "a symbolic link" if kind == stat.S_IFLNK else "not a regular file"
        raise RunError(f"{source}: member {name!r} is {what}; a pack holds regular files only")
    if name not in FILES:
        raise RunError(f"{source}: member {name!r} is not a file of an export ({', '.join(FILES)})")
    if name in seen:
        raise RunError(f"{source}: member {name!r} appears twice")
    seen.add(name)


def _copy(source: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path, budget: int) -> int:
    """Inflate ``member`` into ``path``, counting: never past ``budget`` bytes or :data:`MAX_RATIO`."""
    limit = min(budget, max(member.compress_size, 1) * MAX_RATIO)
    written = 0
    with archive.open(member) as data, path.open("xb") as out:
        while chunk := data.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                reason = (f"more than the {MAX_RATIO} times its compressed size a pack's member may inflate to "
                          "(a zip bomb?)" if limit < budget else "more bytes than a pack may unpack to")
                raise RunError(f"{source}: member {member.filename!r} inflates to {reason}; refused")
            out.write(chunk)
    return written
