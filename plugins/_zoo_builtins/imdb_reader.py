"""The IMDB reader behind the ``imdb`` dataset component (imported only when it is built).

Layout: ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``. Accepted sources: the archive
(``.tar.gz``; read in one pass without extracting, or extracted safely into the cache with
``extract: true``), the extracted ``aclImdb`` folder or the folder that contains it (a ``file://``
URL names one of these), or an ``http(s)`` URL, downloaded once into the cache and checksummed
(an address other than the official one needs its checksum). Review order is deterministic: by
split, label (neg, pos) and file name. Sources are bounded (``max_files``, ``max_total_bytes``,
``max_review_bytes``), and with ``data.limit`` only the reviews kept are read.

``target: rating`` labels each review with the stars in its file name instead (``"1"``..``"10"``,
those that occur, in numeric order); everything else (sources, order, splits) is the same.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urldefrag

import numpy as np

from _zoo_builtins.imdb import OFFICIAL_SHA256, OFFICIAL_URL, ImdbConfig
from zoo.data.archive import iter_files, safe_extract
from zoo.data.cache import file_lock, stable_hash
from zoo.data.download import download, file_url_path, is_url
from zoo.data.interface import RawSplit
from zoo.data.prepare import balanced_subset
from zoo.data.sampling import stratified_pick
from zoo.errors import DataError
from zoo.user_paths import note_path

ENV = "ZOO_IMDB_SOURCE"
LABELS = ["neg", "pos"]
HINT = (
    f"Set {ENV} (or the spec's data.source) to a local aclImdb_v1.tar.gz or its extracted "
    "aclImdb/ folder."
)
_MEMBER = re.compile(r"^(?:\./)?(?:[^/]+/)?(train|test)/(neg|pos)/([^/]+\.txt)$")
_RATING = re.compile(r"^[^_]+_(\d+)\.txt$")

#: A review: ``(split, neg|pos, file name)``.
Key = tuple[str, str, str]
#: Reviews of one folder (``(split, neg|pos)``): ``(file name, text)`` sorted by file name.
Groups = dict[tuple[str, str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Source:
    """A resolved source: ``kind`` is ``url``, ``archive`` or ``folder``; ``origin`` says who named it."""

    kind: str
    location: str
    origin: str

    def __str__(self) -> str:
        return f"{self.kind} {self.location} ({self.origin})"


class ImdbDataset:
    """The IMDB reviews; see :class:`_zoo_builtins.imdb.ImdbConfig` for the options.

    ``labels`` are neg, pos; for ``target: rating`` they are the ratings found, set by :meth:`load`.
    """

    #: Names a local copy; for ``zoo evaluate`` and ``--resume`` it also replaces the source a
    #: received run recorded (see :func:`zoo.rundir.with_data_source`).
    source_env = ENV

    def __init__(self, config: ImdbConfig) -> None:
        self.config = config
        self.labels = list(LABELS) if config.target == "sentiment" else []

    # -- where the data is ----------------------------------------------------------------------

    def resolve(self, source: str | None) -> Source:
        """The source to read: ``source`` (data.source), else ``$ZOO_IMDB_SOURCE``, else the URL.

        A ``file://`` URL is the local path it names. A URL other than the official address is
        accepted only with a checksum (see :meth:`address`).
        """
        if source and source.strip():
            value, origin = source.strip(), "data.source"
        elif os.environ.get(ENV, "").strip():
            value, origin = os.environ[ENV].strip(), ENV
        else:
            value, origin = self.config.url, "data.dataset.url"
        value = file_url_path(value) or value
        note_path(value, origin)
        if is_url(value):
            src = Source("url", value, origin)
            self.address(src)
            return src
        path = Path(value).expanduser()
        if not path.exists():
            raise DataError(
                f"IMDB source {path} (from {origin}) does not exist. It must be the archive "
                f"aclImdb_v1.tar.gz or its extracted aclImdb/ folder. {HINT}"
            )
        path = path.resolve()
        if path.is_dir():
            return Source("folder", str(_folder_root(path)), origin)
        if not path.is_file():  # a FIFO would block the read, a device never end it
            raise DataError(f"IMDB source {path} (from {origin}) is neither a file nor a folder. {HINT}")
        return Source("archive", str(path), origin)

    def address(self, src: Source) -> tuple[str, str | None]:
        """The URL to download and the sha256 its bytes must have.

        The checksum is the URL's ``#sha256=HEX`` fragment, else ``sha256`` for the configured
        ``url``, else the official archive's for the official address. A URL with none of these is
        refused: a spec or an environment from someone else must not make zoo fetch, unverified,
        whatever an address of theirs serves. (``sha256: null`` turns verification off for the
        official address alone.)
        """
        address, fragment = urldefrag(src.location)
        if fragment:
            match = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment)
            if match is None:
                raise DataError(f"{src.location} (from {src.origin}): the URL's fragment must be "
                                "#sha256=<64 hex digits>, the checksum of the archive it serves")
            return address, match.group(1).lower()
        if address == self.config.url and self.config.sha256:
            return address, self.config.sha256
        if address == OFFICIAL_URL:
            return address, self.config.sha256 if address == self.config.url else OFFICIAL_SHA256
        raise DataError(
            f"refusing to download {address} (from {src.origin}) without a checksum: it is not the official "
            f"IMDB address. Add '#sha256=<hex digest>' to the URL or set data.dataset.sha256, or use a "
            f"local copy. {HINT}"
        )

    def describe(self, source: str | None) -> str:
        return str(self.resolve(source))

    def fingerprint(self, source: str | None) -> str:
        """The identity of the data, cheap to compute and offline (see :class:`Dataset`)."""
        src = self.resolve(source)
        if src.kind == "url":
            address, checksum = self.address(src)
            return f"url:{address}:sha256:{checksum}"
        if src.kind == "archive":
            stat = Path(src.location).stat()
            return f"archive:{src.location}:{stat.st_size}:{stat.st_mtime_ns}"
        return f"folder:{src.location}:{_folder_state(Path(src.location))}"

    # -- reading -------------------------------------------------------------------------------

    def load(self, source: str | None, cache_dir: Path, *, seed: int = 1,
             limit: int | None = None) -> dict[str, RawSplit]:
        """The three splits. With ``limit`` (``data.limit``), the class-balanced subset zoo keeps
        of each split is chosen from the file names alone and only its reviews are read."""
        src = self.resolve(source)
        if src.kind == "url":
            address, checksum = self.address(src)
            name = Path(address.split("?", 1)[0]).name or "download.tar.gz"
            path = download(
                address,
                Path(cache_dir) / "downloads" / stable_hash([address, checksum], 16) / name,
                sha256=checksum,
                hint=HINT,
            )
            src = Source("archive", str(path), f"downloaded from {address}")
        if src.kind == "archive" and self.config.extract:
            src = Source("folder", str(_folder_root(self._extracted(Path(src.location), Path(cache_dir)))),
                         src.origin)
        if limit is None:
            return self._split(_groups(self._read(src), src), seed, str(src))
        every = self._split(_groups(self._read(src, names_only=True), src, keys=True), seed, str(src))
        kept = {name: split.subset(balanced_subset(split.labels, limit, seed, name).tolist())
                for name, split in every.items()}
        texts = self._read(src, wanted={key for split in kept.values() for key in split.texts})
        return {name: RawSplit([texts[key] for key in split.texts], split.labels) for name, split in kept.items()}

    def _read(self, src: Source, wanted: set[Key] | None = None, names_only: bool = False) -> dict[Key, str]:
        """``{(split, label, file name): text}`` of the reviews (those ``wanted``; texts empty with
        ``names_only``), within the configured bounds on files and bytes."""
        if src.kind == "archive":
            return self._read_archive(Path(src.location), wanted, names_only)
        return self._read_folder(Path(src.location), wanted, names_only)

    def _read_folder(self, root: Path, wanted: set[Key] | None, names_only: bool) -> dict[Key, str]:
        found: dict[Key, str] = {}
        files = total = 0
        for split in ("train", "test"):
            for label in LABELS:
                folder = root / split / label
                for entry in _scan(folder):
                    if not (entry.name.endswith(".txt") and entry.is_file()):
                        continue
                    files, total = files + 1, total + entry.stat().st_size
                    self._check_bounds(root, files, total)
                    key = (split, label, entry.name)
                    if wanted is None or key in wanted:
                        path = folder / entry.name
                        found[key] = "" if names_only else self._decode(
                            path, _read_bytes(path, self.config.max_review_bytes))
        return found

    def _read_archive(self, archive: Path, wanted: set[Key] | None, names_only: bool) -> dict[Key, str]:
        def key(name: str) -> Key | None:
            match = _MEMBER.match(name)
            return match.groups() if match else None  # type: ignore[return-value]

        def accept(name: str) -> bool:
            found = key(name)
            return found is not None and (wanted is None or found in wanted)

        reviews = iter_files(archive, accept, max_bytes=self.config.max_review_bytes, hint=HINT,
                             max_members=self.config.max_files, max_total_bytes=self.config.max_total_bytes,
                             contents=not names_only)
        return {key(name): "" if data is None else self._decode(f"{archive}: member {name}", data)  # type: ignore[misc]
                for name, data in reviews}

    def _check_bounds(self, root: Path, files: int, total: int) -> None:
        if files > self.config.max_files:
            raise DataError(f"{root} holds more than {self.config.max_files:,} review files "
                            "(data.dataset.max_files); refusing it. Is it really the IMDB data?")
        if total > self.config.max_total_bytes:
            raise DataError(f"{root}: its review files add up to more than {self.config.max_total_bytes:,} bytes "
                            "(data.dataset.max_total_bytes); refusing it. Is it really the IMDB data?")

    def _extracted(self, archive: Path, cache_dir: Path) -> Path:
        """The archive's shared extraction folder in the cache, extracted once under a lock.

        A complete extraction is never replaced (its key holds the archive's path, size and
        modification time), so processes reading it while another one waits cannot lose it.
        """
        stat = archive.stat()
        target = cache_dir / "imdb" / "extracted" / stable_hash([str(archive), stat.st_size, stat.st_mtime_ns], 16)
        with file_lock(target.parent / f".{target.name}.lock"):
            if not target.is_dir():
                safe_extract(archive, target, hint=HINT, max_members=self.config.max_files,
                             max_total_bytes=self.config.max_total_bytes)
        return target

    @staticmethod
    def _decode(where: object, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                "fix or remove that file, or use the official archive"
            ) from None

    # -- splitting -----------------------------------------------------------------------------

    def _split(self, groups: Groups, seed: int, where: str) -> dict[str, RawSplit]:
        label_of = self._labeller(groups, where)

        def part(split: str, folders: list[str]) -> RawSplit:
            texts, ids = [], []
            for folder in folders:
                texts += [text for _, text in groups[split, folder]]
                ids += [label_of(split, folder, name) for name, _ in groups[split, folder]]
            return RawSplit(texts, ids)

        rng = np.random.default_rng(seed)
        valid_size = self.config.valid_size
        if self.config.split == "official":
            train_all, test = part("train", LABELS), part("test", LABELS)
            _check_valid_size(valid_size, len(train_all), where, "training reviews")
            valid_idx = stratified_pick(np.asarray(train_all.labels), valid_size, rng)
            keep = np.ones(len(train_all), bool)
            keep[valid_idx] = False
            return {
                "train": train_all.subset(np.flatnonzero(keep).tolist()),
                "valid": train_all.subset(np.sort(valid_idx).tolist()),
                "test": test,
            }
        # random: the tutorial's order (test pos, test neg, train pos, train neg), one shuffle of
        # everything, the first half (rounded up) for training, the rest for test.
        everything = part("test", ["pos", "neg"])
        other = part("train", ["pos", "neg"])
        everything = RawSplit(everything.texts + other.texts, everything.labels + other.labels)
        order = rng.permutation(len(everything))
        n_pool = len(everything) - len(everything) // 2
        _check_valid_size(valid_size, n_pool, where, "reviews in the training half")
        pool, test_idx = order[:n_pool], order[n_pool:]
        return {
            "train": everything.subset(pool[: n_pool - valid_size].tolist()),
            "valid": everything.subset(pool[n_pool - valid_size :].tolist()),
            "test": everything.subset(test_idx.tolist()),
        }


    def _labeller(self, groups: Groups, where: str) -> Callable[[str, str, str], int]:
        """``label_of(split, folder, file name)``: the label id of a review under ``target``.

        For ``rating`` this also sets :attr:`labels` to the ratings found, in numeric order.
        """
        if self.config.target == "sentiment":
            return lambda split, folder, name: LABELS.index(folder)
        ratings = {
            (split, folder, name): _rating(name, f"{where}: {split}/{folder}/{name}")
            for (split, folder), items in groups.items()
            for name, _ in items
        }
        found = sorted(set(ratings.values()))
        self.labels = [str(rating) for rating in found]
        index = {rating: i for i, rating in enumerate(found)}
        return lambda split, folder, name: index[ratings[split, folder, name]]


def _groups(found: dict[Key, str], src: Source, keys: bool = False) -> Groups:
    """The reviews of each folder (``(split, neg|pos)``) as ``(file name, text)`` in file-name
    order, or with ``keys`` ``(file name, key)``; a split without any review is an error."""
    groups: Groups = {(split, label): [] for split in ("train", "test") for label in LABELS}
    for key in sorted(found):
        groups[key[:2]].append((key[2], key if keys else found[key]))  # type: ignore[arg-type]
    for split in ("train", "test"):
        if any(groups[split, label] for label in LABELS):
            continue
        if src.kind == "folder":
            root = Path(src.location) / split
            raise DataError(f"no reviews in {root}/pos or {root}/neg (expected <id>_<rating>.txt files). {HINT}")
        raise DataError(f"archive {src.location} holds no reviews under aclImdb/{split}/pos or aclImdb/{split}/neg; "
                        f"is it the IMDB archive aclImdb_v1.tar.gz? {HINT}")
    return groups


def build(config: ImdbConfig) -> ImdbDataset:
    """IMDB movie reviews, pos/neg or star ratings, from the Stanford archive or its folder."""
    return ImdbDataset(config)


# ---------------------------------------------------------------------------------------------


def _folder_root(path: Path) -> Path:
    """``path`` if it holds train/ and test/, else its aclImdb/ if that does."""
    for candidate in (path, path / "aclImdb"):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    raise DataError(
        f"{path} has no train/ and test/ folders, nor an aclImdb/ folder holding them; point the "
        f"source at the extracted aclImdb/ folder or at aclImdb_v1.tar.gz. {HINT}"
    )


def _scan(folder: Path) -> list[os.DirEntry]:
    """The entries of one review folder; a missing folder is an error, never "no reviews"."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        raise DataError(
            f"{folder} does not exist: the IMDB layout has pos/ and neg/ folders in both train/ and "
            f"test/. {HINT}"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read the folder {folder}: {exc.strerror}") from None


def _folder_state(root: Path) -> str:
    """A digest of every review file's name, size and modification time (≈0.1 s for 50,000)."""
    state = []
    for split in ("train", "test"):
        for label in LABELS:
            for entry in sorted(_scan(root / split / label), key=lambda e: e.name):
                if entry.name.endswith(".txt"):
                    stat = entry.stat()
                    state.append((split, label, entry.name, stat.st_size, stat.st_mtime_ns))
    return stable_hash(state, 32)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(
                f"{path} is {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:.1f} MB allowed for "
                "one review (data.dataset.max_review_bytes); is it really a review?"
            )
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def _rating(name: str, where: str) -> int:
    """The stars in a review's file name ``<id>_<rating>.txt`` (1 to 10)."""
    match = _RATING.match(name)
    rating = int(match.group(1)) if match else 0
    if not 1 <= rating <= 10:
        raise DataError(
            f"{where}: the file name does not end in _<rating>.txt with a rating from 1 to 10 "
            "(e.g. 123_8.txt), which data.dataset.target: rating reads the label from"
        )
    return rating


def _check_valid_size(valid_size: int, available: int, where: str, what: str) -> None:
    if valid_size >= available:
        raise DataError(
            f"data.dataset.valid_size is {valid_size}, but {where} has only {available} {what}, "
            "which would leave none for training; lower valid_size"
        )
