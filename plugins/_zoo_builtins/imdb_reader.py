"""The IMDB reader behind the ``imdb`` dataset component (imported only when it is built).

Layout: ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``. Accepted sources: the archive
(``.tar.gz``; read in one pass without extracting, or extracted safely into the cache with
``extract: true``), the extracted ``aclImdb`` folder or the folder that contains it, or an
``http(s)``/``file`` URL, downloaded once into the cache and checksummed. Review order is
deterministic: by split, label (neg, pos) and file name.

``target: rating`` labels each review with the stars in its file name instead (``"1"``..``"10"``,
those that occur, in numeric order); everything else (sources, order, splits) is the same.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _zoo_builtins.imdb import ImdbConfig
from zoo.data.archive import iter_files, safe_extract
from zoo.data.cache import file_lock, stable_hash
from zoo.data.download import download, is_url
from zoo.data.interface import RawSplit
from zoo.data.sampling import stratified_pick
from zoo.errors import DataError

ENV = "ZOO_IMDB_SOURCE"
LABELS = ["neg", "pos"]
HINT = (
    f"Set {ENV} (or the spec's data.source) to a local aclImdb_v1.tar.gz or its extracted "
    "aclImdb/ folder."
)
_MEMBER = re.compile(r"^(?:\./)?(?:[^/]+/)?(train|test)/(neg|pos)/([^/]+\.txt)$")
_RATING = re.compile(r"^[^_]+_(\d+)\.txt$")

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

    def __init__(self, config: ImdbConfig) -> None:
        self.config = config
        self.labels = list(LABELS) if config.target == "sentiment" else []

    # -- where the data is ----------------------------------------------------------------------

    def resolve(self, source: str | None) -> Source:
        """The source to read: ``source`` (data.source), else ``$ZOO_IMDB_SOURCE``, else the URL."""
        if source and source.strip():
            value, origin = source.strip(), "data.source"
        elif os.environ.get(ENV, "").strip():
            value, origin = os.environ[ENV].strip(), ENV
        else:
            return Source("url", self.config.url, "official address")
        if is_url(value):
            return Source("url", value, origin)
        path = Path(value).expanduser()
        if not path.exists():
            raise DataError(
                f"IMDB source {path} (from {origin}) does not exist. It must be the archive "
                f"aclImdb_v1.tar.gz or its extracted aclImdb/ folder. {HINT}"
            )
        path = path.resolve()
        if path.is_dir():
            return Source("folder", str(_folder_root(path)), origin)
        return Source("archive", str(path), origin)

    def describe(self, source: str | None) -> str:
        return str(self.resolve(source))

    def fingerprint(self, source: str | None) -> str:
        """The identity of the data, cheap to compute and offline (see :class:`Dataset`)."""
        src = self.resolve(source)
        if src.kind == "url":
            return f"url:{src.location}:sha256:{self._checksum(src.location)}"
        if src.kind == "archive":
            stat = Path(src.location).stat()
            return f"archive:{src.location}:{stat.st_size}:{stat.st_mtime_ns}"
        return f"folder:{src.location}:{_folder_state(Path(src.location))}"

    def _checksum(self, url: str) -> str | None:
        return self.config.sha256 if url == self.config.url else None

    # -- reading -------------------------------------------------------------------------------

    def load(self, source: str | None, cache_dir: Path, *, seed: int = 1) -> dict[str, RawSplit]:
        src = self.resolve(source)
        if src.kind == "url":
            name = Path(src.location.split("?", 1)[0]).name or "download.tar.gz"
            checksum = self._checksum(src.location)
            path = download(
                src.location,
                Path(cache_dir) / "downloads" / stable_hash([src.location, checksum], 16) / name,
                sha256=checksum,
                hint=HINT,
            )
            src = Source("archive", str(path), f"downloaded from {src.location}")
        if src.kind == "archive" and self.config.extract:
            src = Source("folder", str(_folder_root(_extracted(Path(src.location), Path(cache_dir)))), src.origin)
        if src.kind == "archive":
            groups = self._read_archive(Path(src.location))
        else:
            groups = self._read_folder(Path(src.location))
        return self._split(groups, seed, str(src))

    def _read_folder(self, root: Path) -> Groups:
        groups: Groups = {}
        for split in ("train", "test"):
            for label in LABELS:
                folder = root / split / label
                names = sorted(
                    entry.name
                    for entry in _scan(folder)
                    if entry.name.endswith(".txt") and entry.is_file()
                )
                groups[split, label] = [
                    (name, self._decode(folder / name, _read_bytes(folder / name, self.config.max_review_bytes)))
                    for name in names
                ]
        for split in ("train", "test"):
            if not any(groups[split, label] for label in LABELS):
                raise DataError(
                    f"no reviews in {root / split}/pos or {root / split}/neg (expected <id>_<rating>.txt "
                    f"files). {HINT}"
                )
        return groups

    def _read_archive(self, archive: Path) -> Groups:
        found: dict[tuple[str, str], list[tuple[str, str]]] = {
            (s, label): [] for s in ("train", "test") for label in LABELS
        }

        def wanted(name: str) -> bool:
            return _MEMBER.match(name) is not None

        for name, data in iter_files(archive, wanted, max_bytes=self.config.max_review_bytes, hint=HINT):
            split, label, filename = _MEMBER.match(name).groups()  # type: ignore[union-attr]
            found[split, label].append((filename, self._decode(f"{archive}: member {name}", data)))
        for split in ("train", "test"):
            if not any(found[split, label] for label in LABELS):
                raise DataError(
                    f"archive {archive} holds no reviews under aclImdb/{split}/pos or "
                    f"aclImdb/{split}/neg; is it the IMDB archive aclImdb_v1.tar.gz? {HINT}"
                )
        return {key: sorted(items) for key, items in found.items()}

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


def _extracted(archive: Path, cache_dir: Path) -> Path:
    """The archive's shared extraction folder in the cache, extracted once under a lock.

    A complete extraction is never replaced (its key holds the archive's path, size and
    modification time), so processes reading it while another one waits cannot lose it.
    """
    stat = archive.stat()
    target = cache_dir / "imdb" / "extracted" / stable_hash([str(archive), stat.st_size, stat.st_mtime_ns], 16)
    with file_lock(target.parent / f".{target.name}.lock"):
        if not target.is_dir():
            safe_extract(archive, target, hint=HINT)
    return target


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
