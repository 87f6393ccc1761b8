"""The reader behind the ``table`` dataset component (imported only when it is built).

Each split is a table (a file read with :mod:`zoo.tables`, or a pandas DataFrame) with one or
more text columns and a label column. Rows keep their order. Every fault in the data is one
:class:`~zoo.errors.DataError` that names the table, the line (file) or index (DataFrame) and
what would be valid: empty texts (unless ``drop_empty``), missing labels, labels training never
saw or outside ``labels``, an empty label in a multi-label cell, a training table with one label.

Multi-label data: ``label_separator`` splits each label cell (``"a|b"``); in JSON Lines or
Parquet a label cell may also be a list. Each row then carries a set of labels.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _zoo_builtins.table import TableConfig, is_frame
from zoo.data.interface import SPLITS, RawSplit
from zoo.data.sampling import stratified_pick
from zoo.errors import DataError
from zoo.tables import SHOWN, TableFile, is_missing, joined_texts, label_name, missing_column, rows_phrase

#: How a DataFrame is written in a saved spec (``spec.yaml``), which cannot hold the frame.
PLACEHOLDER = "<DataFrame:"


def frame_digest(frame: Any) -> str:
    """sha256 of a DataFrame's column names and content (row by row, index ignored); about
    10 ms for 100,000 short texts."""
    import pandas as pd

    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # cells pandas cannot hash (lists of labels): hash their text
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def frame_placeholder(frame: Any) -> str:
    """``<DataFrame: 1,000 rows x 2 columns, sha256 1a2b3c4d5e6f7a8b>``."""
    rows, columns = frame.shape
    return f"{PLACEHOLDER} {rows:,} rows x {columns} columns, sha256 {frame_digest(frame)[:16]}>"


@dataclass
class Table:
    """One split's table: ``name`` for messages, and a file or a DataFrame."""

    name: str
    file: TableFile | None = None
    frame: Any = None

    def read(self, columns: list[str]) -> Any:
        """The ``columns`` of every row, as a DataFrame with positions 0..n-1."""
        if self.file is not None:
            return self.file.read(columns)
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            raise DataError(missing_column(self.name, missing[0], [str(c) for c in self.frame.columns]))
        if not len(self.frame):
            raise DataError(f"{self.name} has no rows")
        return self.frame[columns]

    def where(self, positions: list[int]) -> list[str]:
        """Positions in the frame read, as a user finds them: a file's lines, a frame's index."""
        if self.file is not None:
            return self.file.where(positions)
        return [f"index {self.frame.index[p]!r}" for p in positions]

    def places(self, positions: list[int]) -> str:
        """``line 4, line 9 and 3 more``."""
        return rows_phrase(self.where(positions[:SHOWN]), len(positions))

    def fingerprint(self) -> str:
        return self.file.fingerprint() if self.file is not None else f"frame:{frame_digest(self.frame)}"

    def __str__(self) -> str:
        return str(self.file.path) if self.file is not None else f"a DataFrame ({len(self.frame):,} rows)"


@dataclass
class Rows:
    """One table's texts and label cells (a name, or a list of names for multi-label data)."""

    table: Table
    texts: list[str]
    labels: list[Any]
    positions: list[int]  # of each row in the table read (rows dropped for empty text are gone)


class TableDataset:
    """Labelled texts from tables; see :class:`_zoo_builtins.table.TableConfig` for the options."""

    def __init__(self, config: TableConfig) -> None:
        self.config = config
        self.labels: list[str] = list(config.labels or [])
        self.multilabel = config.label_separator is not None

    # -- where the data is ----------------------------------------------------------------------

    def tables(self, source: str | None) -> dict[str, Table | None]:
        """Each split's table, or None for a split drawn from train."""
        if source:
            raise DataError(
                f"data.source ({source}) is not used by the table dataset; name the files in "
                "data.dataset.train, valid and test"
            )
        return {split: self._table(split, getattr(self.config, split)) for split in SPLITS}

    def _table(self, split: str, value: Any) -> Table | None:
        if value is None:
            return None
        if is_frame(value):
            return Table(f"the {split} DataFrame", frame=value)
        if value.startswith(PLACEHOLDER):
            raise DataError(
                f"data.dataset.{split} is {value}: this run was trained from an in-memory pandas "
                "DataFrame, which a spec file cannot hold, so its data cannot be read again from "
                "here. Evaluate the run on a file with `zoo evaluate RUN --input FILE`, or from Python "
                f"pass the DataFrame again as data.dataset.{split}"
            )
        config = self.config
        return Table(value, file=TableFile.at(value, delimiter=config.delimiter, encoding=config.encoding))

    def describe(self, source: str | None) -> str:
        fractions = {"valid": self.config.valid_fraction, "test": self.config.test_fraction}
        return ", ".join(
            f"{split} {table}" if table else f"{split} {fractions[split]:.0%} of train"
            for split, table in self.tables(source).items()
        )

    def fingerprint(self, source: str | None) -> str:
        """Each file's resolved path, size and modification time, or a DataFrame's content hash:
        editing a file (or the frame) prepares the data again."""
        return ";".join(
            f"{split}={table.fingerprint() if table else '-'}" for split, table in self.tables(source).items()
        )

    # -- reading ---------------------------------------------------------------------------------

    def load(self, source: str | None, cache_dir: Path, *, seed: int = 1) -> dict[str, RawSplit]:
        tables = self.tables(source)
        read = {split: self._rows(table) for split, table in tables.items() if table is not None}
        train = read["train"]
        if not self.multilabel and any(isinstance(cell, list) for cell in train.labels):
            self.multilabel = True  # JSON Lines / Parquet lists of labels
            read = {split: self._as_sets(rows) for split, rows in read.items()}
        if not self.config.labels:
            self.labels = _sorted_labels({name for cell in train.labels for name in self._names(cell)})
        trained_on = f"training ({train.table.name})"
        self._check_labels(train, trained_on)
        self._check_two_labels(train)
        for split in ("valid", "test"):
            if split in read:
                self._check_labels(read[split], trained_on)
        splits = self._draw({split: self._split(rows) for split, rows in read.items()}, seed, train.table.name)
        self._warn_about_labels(splits["train"], train)
        return splits

    def read_labelled(self, value: Any, trained_on: str, name: str = "input") -> RawSplit:
        """Another labelled table (a path or DataFrame, e.g. ``zoo evaluate RUN --input FILE``),
        read like the splits with this dataset's columns and checked against its ``labels`` and
        ``multilabel``, which the caller sets to a trained model's (``trained_on`` names it)."""
        rows = self._rows(self._table(name, value))
        if self.multilabel:
            rows = self._as_sets(rows)
        self._check_labels(rows, trained_on)
        return self._split(rows)

    def texts(self, frame: Any, name: str = "the input") -> list[str]:
        """The texts of a DataFrame's rows (a chunk of a file to label), its text columns joined;
        a DataError names the columns it has when one is missing."""
        have = [str(c) for c in frame.columns]
        missing = [c for c in self.config.text_columns if c not in have]
        if missing:
            raise DataError(missing_column(name, missing[0], have))
        return joined_texts(frame, self.config.text_columns)

    def _rows(self, table: Table) -> Rows:
        config = self.config
        columns = config.text_columns
        frame = table.read([*columns, config.label])
        texts = joined_texts(frame, columns)
        positions = list(range(len(texts)))
        empty = [i for i, text in enumerate(texts) if not text.strip()]
        cells = frame[config.label].tolist()
        if empty and not config.drop_empty:
            what = f"column '{columns[0]}'" if len(columns) == 1 else f"columns {', '.join(columns)}"
            raise DataError(
                f"{table.name}: empty text ({what}) at {table.places(empty)}; fill them, or set "
                "data.dataset.drop_empty: true to leave such rows out"
            )
        if len(empty) == len(texts):
            raise DataError(f"{table.name}: no rows left once the rows with empty text are left out")
        if empty:
            _warn(
                f"{table.name}: left out {len(empty)} row{'s' if len(empty) > 1 else ''} with empty "
                f"text ({table.places(empty)}), as data.dataset.drop_empty asks"
            )
            keep = sorted(set(positions) - set(empty))
            texts, cells, positions = [texts[i] for i in keep], [cells[i] for i in keep], keep
        labels = [self._cell(table, cell, position) for cell, position in zip(cells, positions, strict=True)]
        missing = [p for p, label in zip(positions, labels, strict=True) if label is None]
        if missing:
            raise DataError(
                f"{table.name}: no label (column '{config.label}') at {table.places(missing)}; "
                "every row needs one"
            )
        return Rows(table, texts, labels, positions)

    def _cell(self, table: Table, cell: Any, position: int) -> Any:
        """A label cell as a name, or (multi-label) a list of names; None when missing."""
        if is_missing(cell):
            return None
        if isinstance(cell, (list, tuple, np.ndarray)):
            names = [label_name(item) for item in cell]
            if None in names:
                self._empty_label(table, cell, position)
            return names or None
        name = label_name(cell)
        if name is None or self.config.label_separator is None:
            return name
        names = [part.strip() for part in name.split(self.config.label_separator)]
        if "" in names:
            self._empty_label(table, cell, position)
        return names

    def _empty_label(self, table: Table, cell: Any, position: int) -> None:
        separator = f", label_separator {self.config.label_separator!r}" if self.config.label_separator else ""
        raise DataError(
            f"{table.name}, {table.where([position])[0]}: an empty label in the label cell {cell!r} "
            f"(column '{self.config.label}'{separator}); every label between separators needs a name"
        )

    def _as_sets(self, rows: Rows) -> Rows:
        rows.labels = [cell if isinstance(cell, list) else [cell] for cell in rows.labels]
        return rows

    def _names(self, cell: Any) -> list[str]:
        return cell if self.multilabel else [cell]

    # -- checking labels ----------------------------------------------------------------------------

    def _check_labels(self, rows: Rows, trained_on: str) -> None:
        """Every label is one the model has: in ``labels`` if given, else seen in training."""
        if not self.multilabel and any(isinstance(cell, list) for cell in rows.labels):
            first = next(p for p, cell in zip(rows.positions, rows.labels, strict=True) if isinstance(cell, list))
            raise DataError(
                f"{rows.table.name}, {rows.table.where([first])[0]}: a list of labels, but {trained_on} "
                "has one label per row; use one kind of label cell everywhere"
            )
        known = set(self.labels)
        unknown: dict[str, list[int]] = {}
        for position, cell in zip(rows.positions, rows.labels, strict=True):
            for name in self._names(cell):
                if name not in known:
                    unknown.setdefault(name, []).append(position)
        if not unknown:
            return
        shown = "; ".join(
            f"'{name}' at {rows.table.places(places)}" for name, places in list(unknown.items())[:SHOWN]
        )
        more = f" and {len(unknown) - SHOWN} more labels" if len(unknown) > SHOWN else ""
        valid = ", ".join(self.labels)
        if self.config.labels:
            raise DataError(
                f"{rows.table.name}: label{'s' if len(unknown) > 1 else ''} outside data.dataset.labels "
                f"(column '{self.config.label}'): {shown}{more}. Valid labels: {valid}"
            )
        raise DataError(
            f"{rows.table.name}: label{'s' if len(unknown) > 1 else ''} that {trained_on} never "
            f"has, so no model could learn {'them' if len(unknown) > 1 else 'it'} (column "
            f"'{self.config.label}'): {shown}{more}. Training labels: {valid}"
        )

    def _check_two_labels(self, train: Rows) -> None:
        present = {name for cell in train.labels for name in self._names(cell)}
        if len(present) < 2:
            raise DataError(
                f"{train.table.name}: every row has the label '{next(iter(present))}' (column "
                f"'{self.config.label}'); a classifier needs examples of at least two labels"
            )

    def _warn_about_labels(self, train: RawSplit, rows: Rows) -> None:
        """Labels the model cannot learn well: without training rows, or nearly one per row."""
        in_file = {name for cell in rows.labels for name in self._names(cell)}
        kept = {self.labels[i] for item in train.labels for i in (item if self.multilabel else [item])}
        never = [label for label in self.labels if label not in in_file]
        drawn = [label for label in self.labels if label in in_file and label not in kept]
        drawn_why = f"no training rows are left, once valid/test are drawn from {rows.table.name}, with"
        for missing, why in ((never, f"{rows.table.name} has no row with"), (drawn, drawn_why)):
            if missing:
                shown = ", ".join(missing[:SHOWN]) + (" ..." if len(missing) > SHOWN else "")
                _warn(f"{why} the label{'s' if len(missing) > 1 else ''} {shown}; the model cannot learn "
                      f"{'them' if len(missing) > 1 else 'it'}")
        if len(self.labels) > 20 and len(self.labels) > len(rows.texts) / 2:
            _warn(
                f"{rows.table.name}: {len(self.labels):,} labels in {len(rows.texts):,} rows (column "
                f"'{self.config.label}'); is that the label column? A classifier needs several rows per label"
            )

    # -- splits -----------------------------------------------------------------------------------

    def _split(self, rows: Rows) -> RawSplit:
        index = {name: i for i, name in enumerate(self.labels)}
        if self.multilabel:
            return RawSplit(rows.texts, [sorted({index[name] for name in cell}) for cell in rows.labels])
        return RawSplit(rows.texts, [index[name] for name in rows.labels])

    def _draw(self, splits: dict[str, RawSplit], seed: int, name: str) -> dict[str, RawSplit]:
        """The splits without a table, drawn from train: test first, then valid, seeded."""
        rng = np.random.default_rng(seed)
        train = splits["train"]
        fractions = {"test": self.config.test_fraction, "valid": self.config.valid_fraction}
        drawn = [split for split in ("test", "valid") if split not in splits]
        sizes = {split: max(1, round(fractions[split] * len(train))) for split in drawn}
        if len(train) - sum(sizes.values()) < 2:
            asked = " and ".join(f"{split}_fraction {fractions[split]}" for split in drawn)
            raise DataError(
                f"{name} has {len(train)} rows: too few to hold out {asked} and "
                "still train on at least 2; give more rows, or valid/test tables"
            )
        for split in drawn:
            if self.multilabel:
                picked = rng.permutation(len(train))[: sizes[split]]
            else:
                picked = stratified_pick(np.asarray(train.labels), sizes[split], rng)
            keep = np.ones(len(train), dtype=bool)
            keep[picked] = False
            splits[split] = train.subset(np.sort(picked).tolist())
            train = train.subset(np.flatnonzero(keep).tolist())
        splits["train"] = train
        return {split: splits[split] for split in SPLITS}


def build(config: TableConfig) -> TableDataset:
    """Labelled texts from CSV, TSV, JSON Lines or Parquet files, or DataFrames."""
    return TableDataset(config)


# ---------------------------------------------------------------------------------------------


def _warn(message: str) -> None:
    print(f"zoo: warning: {message}", file=sys.stderr)


def _sorted_labels(names: set[str]) -> list[str]:
    """Numerically when every label is a number (so 2 comes before 10), else as text."""
    ordered = sorted(names)
    numbers = [_number(name) for name in ordered]
    if all(number is not None for number in numbers):
        return [name for _, name in sorted(zip(numbers, ordered, strict=True))]
    return ordered


def _number(name: str) -> float | None:
    try:
        value = float(name)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
