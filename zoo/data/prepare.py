"""From a spec to ready-to-batch data: load, subset, tokenize once (cached), vocabulary.

The expensive part, tokenizing every review, is cached on disk under
``<cache>/prepared/<key>/``, the key hashing everything the tokens depend on: the dataset (its
type, config, plugin version and the data's fingerprint), ``data.seed`` and ``data.limit`` (which
reviews), and the tokenizer (type, config, plugin version). The folder holds each split's tokens
as ids into a table of every distinct token; the vocabulary (``min_freq``, ``max_size``) is then
built from the training split's counts and applied in numpy, which takes a fraction of a second,
so changing it never re-tokenizes. Entries appear atomically (a crash leaves none), and a lock
makes concurrent processes (distributed ranks) build an entry once.

Multi-label data (a dataset whose ``multilabel`` attribute is true) are stored as a multi-hot
``(n, labels)`` int8 array per split and marked in the entry's ``meta.json``; single-label entries
are exactly what they were before multi-label data existed.
"""

from __future__ import annotations

import inspect
import json
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.console import safe
from zoo.data.cache import cache_dir, file_lock, stable_hash
from zoo.data.download import sha256_file
from zoo.data.encode import EncodedSplit, TokenTable, tokenize_table, vocab_mapping
from zoo.data.interface import SPLITS, RawSplit
from zoo.data.vocab import Vocab
from zoo.errors import DataError
from zoo.io import atomic_directory, atomic_write_json
from zoo.user_paths import note_path

#: Bump when the layout of a cache entry changes; old entries are then ignored.
CACHE_FORMAT = 2
#: The files of an entry whose size and sha256 ``meta.json`` records and every read verifies.
ENTRY_FILES = (*(f"{name}.npz" for name in SPLITS), "tokens.json")


@dataclass
class PreparedData:
    """Encoded splits (``train``, ``valid``, ``test``), their vocabulary and what was done.

    ``info``: ``dataset``, ``source``, ``cache_path``, ``cache_hit``, ``counts``
    (``{split: {label: n}}``), ``lengths`` (``{split: {mean, p95, max}}`` in tokens),
    ``vocab_size``, ``timings`` (seconds), ``labels``, ``multilabel``, ``limit``, ``seed``.

    ``multilabel``: each text carries a set of labels; the splits' ``labels`` are then multi-hot
    ``(n, len(labels))`` arrays and ``counts`` say how many texts carry each label.
    """

    vocab: Vocab
    splits: dict[str, EncodedSplit]
    labels: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    #: Whether texts carry several labels each (labels are then multi-hot rows).
    multilabel: bool = False

    def __getitem__(self, split: str) -> EncodedSplit:
        return self.splits[split]


def prepare_data(
    spec: Any,
    registry: Any,
    *,
    cache_root: Path | None = None,
    console: Any = None,
    workers: int | None = None,
) -> PreparedData:
    """Prepare ``spec.data`` with ``spec.tokenizer``; see the module docstring.

    ``console``: a rich console for progress (default: a progress bar only when stderr is a
    terminal). ``workers``: tokenizing processes (default: the CPUs for large data, else none).
    """
    started = time.perf_counter()
    data = spec.data
    root = Path(cache_root) if cache_root is not None else cache_dir()
    note_path(data.source, "data.source")
    dataset_component = registry.get("dataset", data.dataset.type)
    tokenizer_component = registry.get("tokenizer", spec.tokenizer.type)
    dataset = registry.build("dataset", data.dataset)
    tokenizer = registry.build("tokenizer", spec.tokenizer)
    check_tokens(tokenizer, tokenizer_component)

    key_data = {
        "format": CACHE_FORMAT,
        "dataset": _component_key(dataset_component, data.dataset),
        "fingerprint": dataset.fingerprint(data.source),
        "seed": data.seed,
        "limit": data.limit,
        "tokenizer": _component_key(tokenizer_component, spec.tokenizer),
    }
    describe = getattr(dataset, "describe", None)
    source = describe(data.source) if callable(describe) else (data.source or "(dataset default)")
    key = stable_hash(key_data)
    entry = root / "prepared" / key
    timings: dict[str, float] = {}

    with file_lock(root / "prepared" / f".{key}.lock"):
        cached = _read_entry(entry)
        hit = cached is not None
        if cached is None:
            cached = _build_entry(
                entry, key_data, dataset, tokenizer, data, root, source, timings, console, workers
            )
    meta, table_tokens, raw_splits = cached

    t0 = time.perf_counter()
    vocab, mapping = _vocabulary(table_tokens, raw_splits["train"], data.min_freq, data.max_size)
    splits = {name: split.map_ids(mapping) for name, split in raw_splits.items()}
    timings["vocab_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    labels = list(meta["labels"])
    multilabel = bool(meta.get("multilabel", False))
    info = {
        "dataset": data.dataset.type,
        "source": source,
        "cache_path": str(entry),
        "cache_hit": hit,
        "counts": {name: _counts(split.labels, labels) for name, split in splits.items()},
        "lengths": {name: _length_stats(split.lengths) for name, split in splits.items()},
        "vocab_size": len(vocab),
        "distinct_tokens": len(table_tokens),
        "labels": labels,
        "multilabel": multilabel,
        "limit": data.limit,
        "seed": data.seed,
        "max_length": data.max_length,
        "timings": {name: round(seconds, 3) for name, seconds in timings.items()},
    }
    if hit:  # what building this entry took, the first time
        info["built_timings"] = meta.get("timings", {})
    return PreparedData(vocab, splits, labels, info, multilabel)


#: Texts every tokenizer must turn into a list of non-empty strings (docs/plugins.md).
PROBE_TEXTS = ("A fine film, really.", "", "<br /><br />Bad :( 😀 ok!")


def check_tokens(tokenizer: Callable[[str], Any], component: Any) -> None:
    """Refuse a tokenizer that breaks its contract on :data:`PROBE_TEXTS`, naming its plugin.

    Why: a tokenizer returning a string (its characters become the tokens) or empty tokens
    would train a model on something else than words, without a word of warning.
    """
    from zoo.errors import PluginError

    for text in PROBE_TEXTS:
        try:
            tokens = tokenizer(text)
        except Exception as exc:  # noqa: BLE001 - the plugin's own failure, reported as its
            problem = f"failed on {text!r}: {type(exc).__name__}: {exc}"
        else:
            if isinstance(tokens, (list, tuple)) and all(isinstance(t, str) and t for t in tokens):
                continue
            problem = f"turned {text!r} into {repr(tokens)[:80]}, not a list of non-empty strings"
        raise PluginError(f"tokenizer '{component.name}' from plugin {component.plugin.name} "
                          f"({component.plugin}) {problem}; see docs/plugins.md, The component interfaces")


# ---------------------------------------------------------------------------------------------


def _component_key(component: Any, config: Any) -> dict[str, Any]:
    plugin = component.plugin
    return {
        "config": config.model_dump(mode="json"),
        "plugin": [plugin.name, plugin.distribution, plugin.version],
    }


def _read_entry(entry: Path) -> tuple[dict[str, Any], list[str], dict[str, EncodedSplit]] | None:
    """A complete cache entry, or None (absent, older format, or unreadable: rebuilt then).

    Every file must have the size and sha256 its ``meta.json`` records, so a truncated, emptied
    or swapped file (``train.npz`` for ``test.npz``) is rebuilt, with a warning, never used.
    """
    if not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != CACHE_FORMAT:
            return None
        _verify(entry, meta["files"])
        tokens = json.loads((entry / "tokens.json").read_text(encoding="utf-8"))
        splits = {name: EncodedSplit.load(entry / f"{name}.npz") for name in SPLITS}
        if any(split.multilabel != bool(meta.get("multilabel", False)) for split in splits.values()):
            raise ValueError("its labels do not match its meta.json")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"zoo: warning: ignoring unreadable data cache {entry} ({exc}); rebuilding", file=sys.stderr)
        return None
    return meta, tokens, splits


def _build_entry(
    entry: Path,
    key_data: dict[str, Any],
    dataset: Any,
    tokenizer: Callable[[str], list[str]],
    data: Any,
    root: Path,
    source: str,
    timings: dict[str, float],
    console: Any,
    workers: int | None,
) -> tuple[dict[str, Any], list[str], dict[str, EncodedSplit]]:
    with _progress(console) as progress:
        t0 = time.perf_counter()
        progress.status(f"reading {source}")
        raw = _load(dataset, data, root, key_data["dataset"]["plugin"][0])
        labels = list(dataset.labels)
        multilabel = bool(getattr(dataset, "multilabel", False))
        raw = checked_splits(raw, labels, data.dataset.type, multilabel)
        if data.limit is not None:
            raw = {
                name: split.subset(
                    balanced_subset(label_array(split.labels, len(labels), multilabel), data.limit,
                                    data.seed, name).tolist()
                )
                for name, split in raw.items()
            }
        check_classes(raw, labels, source, multilabel)
        timings["load_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        texts = [text for name in SPLITS for text in raw[name].texts]
        advance = progress.bar("tokenizing", len(texts))
        table = tokenize_table(texts, tokenizer, workers=workers, progress=advance)
        timings["tokenize_s"] = time.perf_counter() - t0
    splits = _cut(table, raw, len(labels), multilabel)
    meta = {
        "format": CACHE_FORMAT,
        "key": key_data,
        "source": source,
        "labels": labels,
        **({"multilabel": True} if multilabel else {}),
        "distinct_tokens": len(table.tokens),
        "counts": {name: _counts(splits[name].labels, labels) for name in SPLITS},
        "timings": {name: round(seconds, 3) for name, seconds in timings.items()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    t0 = time.perf_counter()
    _remove_stale(entry)
    with atomic_directory(entry) as tmp:
        for name, split in splits.items():
            split.save(tmp / f"{name}.npz")
        (tmp / "tokens.json").write_text(json.dumps(table.tokens, ensure_ascii=False), encoding="utf-8")
        meta["files"] = {name: _record(tmp / name) for name in ENTRY_FILES}
        atomic_write_json(tmp / "meta.json", meta)
    timings["cache_write_s"] = time.perf_counter() - t0
    return meta, table.tokens, splits


def _record(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def _verify(entry: Path, records: dict[str, Any]) -> None:
    """Raise ValueError unless each of the entry's files has the size and sha256 recorded."""
    for name in ENTRY_FILES:
        if _record(entry / name) != records[name]:
            raise ValueError(f"{name} is not the file this entry recorded (truncated, replaced or swapped)")


def _load(dataset: Any, data: Any, root: Path, plugin: str) -> Any:
    """The dataset's splits; one whose ``load`` takes ``limit`` reads only the ``data.limit`` subset
    (the same :func:`balanced_subset` zoo then takes, which leaves it as it is).

    Any failure but a :class:`~zoo.errors.ZooError` or an operating-system error (which the CLI
    reports with the path) is the dataset's own bug, e.g. a :class:`RawSplit` of 40 texts and 30
    labels: one message naming the dataset, as :func:`checked_splits` does for what it returns.
    """
    from zoo.errors import ZooError

    try:
        if data.limit is not None and "limit" in inspect.signature(dataset.load).parameters:
            return dataset.load(data.source, root, seed=data.seed, limit=data.limit)
        return dataset.load(data.source, root, seed=data.seed)
    except (ZooError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - attributed to the dataset, traceback chained
        raise DataError(f"dataset '{data.dataset.type}' from plugin {plugin} failed in load: "
                        f"{type(exc).__name__}: {exc}") from exc


def _remove_stale(entry: Path) -> None:
    """Remove what a killed build of ``entry`` left (we hold its lock, so none is in progress)."""
    for leftover in [*entry.parent.glob(f".{entry.name}.*.tmp"), entry.parent / f".{entry.name}.old"]:
        shutil.rmtree(leftover, ignore_errors=True)


def _cut(table: TokenTable, raw: dict[str, RawSplit], n_labels: int, multilabel: bool) -> dict[str, EncodedSplit]:
    sizes = [len(raw[name]) for name in SPLITS]
    labels = [label_array(raw[name].labels, n_labels, multilabel) for name in SPLITS]
    return dict(zip(SPLITS, table.split(sizes, labels), strict=True))


def label_array(labels: list[Any], n_labels: int, multilabel: bool) -> np.ndarray:
    """A split's labels as stored: int64 ids, or for multi-label data a multi-hot ``(n, n_labels)``
    int8 array from each text's list of label ids."""
    if not multilabel:
        return np.asarray(labels, dtype=np.int64)
    hot = np.zeros((len(labels), n_labels), dtype=np.int8)
    rows = np.repeat(np.arange(len(labels)), [len(ids) for ids in labels])
    hot[rows, np.fromiter((i for ids in labels for i in ids), dtype=np.int64, count=len(rows))] = 1
    return hot


def checked_splits(raw: Any, labels: list[str], name: str, multilabel: bool = False) -> dict[str, RawSplit]:
    """The dataset's output, validated (a third-party plugin's mistakes get a clear message).

    Multi-label items become sorted lists of distinct ids; each text needs at least one label.
    """
    if not isinstance(raw, dict) or set(raw) != set(SPLITS):
        keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise DataError(f"dataset '{name}' returned {keys}; expected the splits {', '.join(SPLITS)}")
    out = {}
    for split in SPLITS:
        part = raw[split]
        texts = list(part.texts)
        try:
            ids = [_label_set(item) if multilabel else int(item) for item in part.labels]
        except (TypeError, ValueError):
            kind = "a list of label ids per text" if multilabel else "one label id per text"
            raise DataError(f"dataset '{name}', split {split}: labels must be {kind}") from None
        if len(texts) != len(ids):
            raise DataError(f"dataset '{name}', split {split}: {len(texts)} texts but {len(ids)} labels")
        flat = [i for item in ids for i in item] if multilabel else ids
        if any(not 0 <= label < len(labels) for label in flat):
            raise DataError(
                f"dataset '{name}', split {split}: label ids must be 0..{len(labels) - 1} ({labels})"
            )
        if multilabel and not all(ids):
            raise DataError(f"dataset '{name}', split {split}: every text needs at least one label")
        if not all(isinstance(text, str) for text in texts):
            raise DataError(f"dataset '{name}', split {split}: every text must be a str")
        out[split] = RawSplit(texts, ids)
    return out


def _label_set(item: Any) -> list[int]:
    if isinstance(item, (str, bytes)):
        raise TypeError("a multi-label item must be a list of ids")
    return sorted({int(i) for i in item})


def check_classes(raw: dict[str, RawSplit], labels: list[str], source: str, multilabel: bool = False) -> None:
    """No split is empty and training holds two labels or more: a classifier needs both."""
    for split in SPLITS:
        if not len(raw[split]):
            raise DataError(f"the {split} split of {source} is empty")
    counts = _counts(label_array(raw["train"].labels, len(labels), multilabel), labels)
    present = [label for label, n in counts.items() if n]
    if len(present) < 2:
        shown = ", ".join(f"{label}: {n}" for label, n in counts.items())
        raise DataError(
            f"the training split of {source} holds only one class ({shown}); a classifier needs "
            "examples of every class. Check the data (are the pos/ and neg/ folders both there?)"
        )


def balanced_subset(labels: Any, n: int, seed: int, name: str = "") -> np.ndarray:
    """Sorted indices of a seeded, class-balanced subset of ``n`` items (all of them if fewer).

    Each class gets ``n // classes`` (the remainder going to the first classes); a class with
    fewer items gives all it has and the others make up the difference where they can.
    Multi-label data (a 2-D multi-hot ``labels``) have no classes to balance: they get a plain
    seeded random subset, which keeps each label's share as it is.
    """
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if labels.ndim == 2:
        return np.sort(rng.permutation(len(labels))[:n])
    classes = np.unique(labels)
    pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    take = dict.fromkeys(classes, 0)
    left = n
    while left > 0:
        open_classes = [c for c in classes if take[c] < len(pools[c])]
        share, extra = divmod(left, len(open_classes))
        for i, c in enumerate(open_classes):
            add = min(share + (i < extra), len(pools[c]) - take[c])
            take[c] += add
            left -= add
    return np.sort(np.concatenate([pools[c][: take[c]] for c in classes]))


def _vocabulary(
    tokens: list[str], train: EncodedSplit, min_freq: int, max_size: int | None
) -> tuple[Vocab, np.ndarray]:
    counts = np.bincount(train.ids, minlength=len(tokens))
    seen = np.flatnonzero(counts >= min_freq)
    vocab = Vocab.from_counts(
        {tokens[i]: int(counts[i]) for i in seen.tolist()}, min_freq=min_freq, max_size=max_size
    )
    return vocab, vocab_mapping(tokens, vocab)


def _counts(labels: np.ndarray, names: list[str]) -> dict[str, int]:
    """Texts per label (multi-label: texts carrying each label, so they may sum to more)."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        found = labels.sum(axis=0, dtype=np.int64)
    else:
        found = np.bincount(labels.astype(np.int64), minlength=len(names))
    return {name: int(found[i]) for i, name in enumerate(names)}


def _length_stats(lengths: np.ndarray) -> dict[str, float]:
    if not len(lengths):
        return {"mean": 0.0, "p95": 0.0, "max": 0}
    return {
        "mean": round(float(lengths.mean()), 2),
        "p95": round(float(np.percentile(lengths, 95)), 1),
        "max": int(lengths.max()),
    }


class _Progress:
    """Status line and progress bar, or nothing, behind one small interface."""

    def __init__(self, progress: Any = None) -> None:
        self._progress = progress
        self._status = None

    def status(self, text: str) -> None:
        if self._progress is not None:
            self._status = self._progress.add_task(safe(text), total=None)

    def bar(self, text: str, total: int) -> Callable[[int], None] | None:
        if self._progress is None:
            return None
        if self._status is not None:
            self._progress.update(self._status, total=1, completed=1)
        task = self._progress.add_task(text, total=total)
        return lambda n: self._progress.advance(task, n)


@contextmanager
def _progress(console: Any) -> Iterator[_Progress]:
    if not (console.is_terminal if console is not None else sys.stderr.isatty()):
        yield _Progress()  # no live bars in logs and CI
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
    ) as progress:
        yield _Progress(progress)


#: Up to this many labels ``zoo data`` shows one column per label; beyond, one row per label.
WIDE_LABELS = 10


def summary_table(prepared: PreparedData) -> Any:
    """A rich table of what ``zoo data`` found: texts per split and label, token lengths.

    For multi-label data a label's column counts the texts carrying it; ``total`` is always the
    number of texts. With many labels, they get a table of their own, one row each.
    """
    from rich.console import Group
    from rich.table import Table

    info = prepared.info
    cache = "hit" if info["cache_hit"] else "built"
    table = Table(
        title=f"{safe(info['dataset'])}: {safe(info['source'])}",
        caption=f"cache ({cache}): {safe(info['cache_path'])}\nvocabulary: {info['vocab_size']:,} tokens "
        f"(<pad>, <unk> included) from the training split; {info['timings']['total_s']:.2f} s"
        + ("\nmulti-label: a label's column counts the texts that carry it" if prepared.multilabel else ""),
    )
    wide = len(prepared.labels) <= WIDE_LABELS
    table.add_column("split")
    for label in prepared.labels if wide else ["labels present"]:
        table.add_column(safe(label), justify="right")
    for column in ("total", "tokens: mean", "p95", "max"):
        table.add_column(column, justify="right")
    for split, counts in info["counts"].items():
        lengths = info["lengths"][split]
        present = sum(1 for n in counts.values() if n)
        table.add_row(
            split,
            *([f"{counts[label]:,}" for label in prepared.labels] if wide else [f"{present:,} of {len(counts):,}"]),
            f"{len(prepared.splits[split]):,}",
            f"{lengths['mean']:.1f}",
            f"{lengths['p95']:.0f}",
            f"{lengths['max']:,}",
        )
    if wide:
        return table
    per_label = Table(title="texts per label")
    per_label.add_column("label")
    for split in info["counts"]:
        per_label.add_column(split, justify="right")
    for label in prepared.labels:
        per_label.add_row(label, *(f"{counts[label]:,}" for counts in info["counts"].values()))
    return Group(table, per_label)
