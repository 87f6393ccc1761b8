"""Tables in files, by suffix: read whole, read in chunks, and write atomically.

Formats: ``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` (one JSON object per line) and
``.parquet`` (with pyarrow, the ``parquet`` extra); the text formats may be gzipped
(``.csv.gz``...). CSV and TSV cells are read as strings, exactly as written: an empty cell is
``""`` and words such as ``NA`` or ``null`` stay words. JSON Lines and Parquet keep their types
(a missing value is ``None``/NaN).

Every problem with a file is a :class:`~zoo.errors.DataError` naming the file, the line (text
formats; the header is line 1) or row (Parquet) where it applies and what would be valid. Rows
are numbered from 0 in the frames returned (each chunk's index continues the previous one);
:meth:`TableFile.where` turns those numbers into what a user sees in an editor.

pandas and pyarrow are imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import numbers
import os
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import install_hint
from zoo.errors import DataError
from zoo.io import atomic_file

TEXT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: Every suffix zoo reads and writes tables in.
SUFFIXES = (*TEXT_FORMATS, *(f"{suffix}.gz" for suffix in TEXT_FORMATS), ".parquet")
#: How to get Parquet support (change here if the distribution is renamed).
PARQUET_INSTALL = install_hint("parquet")
DELIMITERS = {"csv": ",", "tsv": "\t"}
#: Rows named in one message at most.
SHOWN = 5


@dataclass(frozen=True)
class TableFile:
    """A table file: its ``path``, ``format`` (csv, tsv, jsonl, parquet), whether it is gzipped,
    and how its text is read (``delimiter``: CSV/TSV only, ``encoding``: text formats only).

    ``setting`` says in messages where a user sets those: ``"data.dataset.{}"`` (a spec), or
    e.g. ``"--{}"`` for a command's options.
    """

    path: Path
    format: str
    gzipped: bool = False
    delimiter: str | None = None
    encoding: str = "utf-8"
    setting: str = "data.dataset.{}"

    @classmethod
    def at(cls, path: str | os.PathLike, *, delimiter: str | None = None, encoding: str = "utf-8",
           must_exist: bool = True, setting: str = "data.dataset.{}") -> TableFile:
        """The table at ``path``, its format from its suffix; a DataError for an unknown suffix,
        an unknown encoding or (``must_exist``) a missing file."""
        path = Path(path).expanduser()
        if path.is_dir():
            raise DataError(f"{path} is a folder; name a table file in it ({', '.join(SUFFIXES)})")
        name = path.name.lower()
        gzipped = name.endswith(".gz")
        suffix = Path(name.removesuffix(".gz")).suffix
        fmt = "parquet" if suffix == ".parquet" and not gzipped else TEXT_FORMATS.get(suffix)
        if fmt is None:
            raise DataError(
                f"{path}: unknown table format '{''.join(path.suffixes[-2:]) or path.name}'; "
                f"use one of {', '.join(SUFFIXES)}"
            )
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"{path}: unknown encoding '{encoding}' (e.g. utf-8, cp1252, latin-1)") from None
        if must_exist and not path.is_file():
            state = "is not a file" if path.exists() else "does not exist"
            relative = "" if path.is_absolute() else f" (relative to the current folder {Path.cwd()})"
            raise DataError(f"{path} {state}{relative}")
        return cls(path, fmt, gzipped, delimiter or DELIMITERS.get(fmt), encoding, setting)

    def fingerprint(self) -> str:
        """The file's resolved path, size and modification time: changes whenever it is edited,
        costs one ``stat``, never reads the file."""
        resolved = self.path.resolve()
        stat = resolved.stat()
        return f"{resolved}:{stat.st_size}:{stat.st_mtime_ns}"

    # -- reading ---------------------------------------------------------------------------------

    def columns(self) -> list[str]:
        """The column names (CSV/TSV: the header; JSON Lines: the keys of the first object)."""
        with self._reading():
            if self.format == "parquet":
                return list(self._parquet().schema_arrow.names)
            if self.format == "jsonl":
                first = next(self._json_chunks(1), None)
                return [] if first is None else [str(c) for c in first.columns]
            import pandas as pd

            self._check_header()
            header = pd.read_csv(self.path, nrows=0, **self._csv_options())
            return [str(c) for c in header.columns]

    def read(self, columns: list[str] | None = None) -> Any:
        """The whole table as a DataFrame (only ``columns`` if given, in that order)."""
        import pandas as pd

        chunks = list(self.chunks(None, columns))
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks)

    def chunks(self, rows: int | None, columns: list[str] | None = None) -> Iterator[Any]:
        """DataFrames of at most ``rows`` rows each (``None``: one frame), read as they are needed,
        so a file larger than memory can be processed. A table with no rows is a DataError.

        A JSON Lines file has the columns its first chunk's objects have between them; a column
        missing from some later object is a missing value there.
        """
        if columns is not None and self.format != "jsonl":
            self.require(columns, self.columns())
        empty = True
        with self._reading():
            for chunk in self._chunks(rows, columns):
                if len(chunk):
                    empty = False
                    yield chunk
        if empty:
            raise DataError(f"{self.path} has no rows" + (" (only a header)" if self.format in DELIMITERS else ""))

    def require(self, columns: list[str], have: list[str]) -> None:
        """A DataError naming the first of ``columns`` not in ``have``, and the columns there are."""
        missing = [c for c in columns if c not in have]
        if missing:
            raise DataError(missing_column(str(self.path), missing[0], have, self.setting.format("delimiter")))

    def where(self, rows: list[int]) -> list[str]:
        """Each row number (from 0, as in the frames read) as a user finds it: ``line N`` in a
        text format, counted as an editor does (CSV rows spanning several lines included),
        ``row N`` (from 1) in Parquet."""
        if self.format == "parquet":
            return [f"row {row + 1}" for row in rows]
        starts = self._line_starts(set(rows))
        return [f"line {starts[row][0]}" + self._ragged_note(starts[row]) for row in rows]

    def _ragged_note(self, start: tuple[int, int, int]) -> str:
        _, fields, expected = start
        if self.format not in DELIMITERS or fields >= expected:
            return ""
        return f" (a ragged row: {fields} field{'s' if fields != 1 else ''} where the header has {expected})"

    # -- the formats -------------------------------------------------------------------------------

    def _csv_options(self) -> dict[str, Any]:
        return {
            "sep": self.delimiter, "dtype": str, "keep_default_na": False, "na_filter": False,
            "encoding": self.encoding, "compression": "gzip" if self.gzipped else None,
        }

    def _chunks(self, rows: int | None, columns: list[str] | None) -> Iterator[Any]:
        if self.format == "parquet":
            yield from self._parquet_chunks(rows, columns)
        elif self.format == "jsonl":
            for number, chunk in enumerate(self._json_chunks(rows)):
                if columns is not None and number == 0 and len(chunk):
                    self.require(columns, [str(c) for c in chunk.columns])
                yield chunk if columns is None else chunk.reindex(columns=columns)
        else:
            yield from self._csv_chunks(rows, columns)

    def _csv_chunks(self, rows: int | None, columns: list[str] | None) -> Iterator[Any]:
        import pandas as pd

        # every column is parsed (pandas' usecols would let a row with too many cells through,
        # its cells shifted), then the wanted ones kept
        self._check_header()
        options = self._csv_options()
        if rows is None:
            chunks: Any = contextlib.nullcontext([pd.read_csv(self.path, **options)])
        else:
            chunks = pd.read_csv(self.path, chunksize=rows, **options)
        with chunks as frames:
            for chunk in frames:
                # a first data row longer than the header makes pandas take its first cells
                # as the index instead of complaining: that is a ragged row
                if not isinstance(chunk.index, pd.RangeIndex):
                    raise pd.errors.ParserError("ragged")
                yield chunk if columns is None else chunk[columns]

    def _check_header(self) -> None:
        """Refuse a CSV/TSV header naming one column twice: pandas renames the second
        (``queue``, ``queue.1``), so the first would be read as the text or label without a word,
        and ``zoo predict --output`` would write a header other than the input's."""
        import pandas as pd

        first = pd.read_csv(self.path, header=None, nrows=1, **self._csv_options())
        names = [str(name) for name in first.iloc[0].tolist()] if len(first) else []
        repeated = [name for number, name in enumerate(names) if name.strip() and name in names[:number]]
        if repeated:
            raise DataError(f"{self.path}, line 1: the header names the column {repeated[0]!r} more than once; "
                            "give each column its own name")

    def _json_chunks(self, rows: int | None) -> Iterator[Any]:
        import pandas as pd

        records: list[dict[str, Any]] = []
        start = 0
        with self._text() as handle:
            for number, line in enumerate(handle, 1):
                if number == 1:
                    line = line.removeprefix("\ufeff")  # a byte order mark, as some editors write
                if not line.strip():
                    continue
                records.append(self._json_record(line, number))
                if rows is not None and len(records) == rows:
                    yield _frame(pd, records, start)
                    start, records = start + len(records), []
        if records:
            yield _frame(pd, records, start)

    def _json_record(self, line: str, number: int) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{self.path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                "JSON Lines hold one JSON object per line"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{self.path}, line {number}: a JSON {type(record).__name__} where an object "
                '({"column": value, ...}) was expected'
            )
        return record

    def _parquet(self) -> Any:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(
                f"{self.path}: reading Parquet needs pyarrow, which is not installed; {PARQUET_INSTALL}"
            ) from None
        return pq.ParquetFile(self.path)

    def _parquet_chunks(self, rows: int | None, columns: list[str] | None) -> Iterator[Any]:
        parquet = self._parquet()
        start = 0
        for batch in parquet.iter_batches(batch_size=rows or 65_536, columns=columns):
            frame = batch.to_pandas(integer_object_nulls=True)
            frame.index = range(start, start + len(frame))
            start += len(frame)
            yield frame

    @contextlib.contextmanager
    def _text(self) -> Iterator[Any]:
        opener = gzip.open if self.gzipped else open
        with opener(self.path, "rt", encoding=self.encoding, newline="") as handle:
            yield handle

    # -- errors ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn what pandas, pyarrow, gzip and the codecs raise into one clear DataError."""
        import pandas as pd

        try:
            yield
        except DataError:
            raise
        except UnicodeDecodeError as exc:
            raise DataError(self._encoding_problem(exc)) from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{self.path} is empty: no header, no rows") from None
        except pd.errors.ParserError as exc:
            raise DataError(self._ragged_problem(exc)) from None
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(f"{self.path}: not a complete gzip file ({exc}); the suffix .gz says it is one") from None
        except FileNotFoundError:
            raise DataError(f"{self.path} does not exist") from None
        except OSError as exc:
            raise DataError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("pyarrow"):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DataError(f"{self.path}: not a readable Parquet file ({first})") from None
            raise

    def _encoding_problem(self, exc: UnicodeDecodeError) -> str:
        """Where the first byte that is not text in :attr:`encoding` is: found by decoding the
        file line by line (only done once reading has failed)."""
        decoder = codecs.getincrementaldecoder(self.encoding)()
        opener = gzip.open if self.gzipped else open
        with opener(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    decoder.decode(raw)
                except UnicodeDecodeError as bad:
                    byte = bad.object[bad.start : bad.start + 1].hex().upper()
                    return (
                        f"{self.path}, line {number}: not valid {self.encoding} text (byte 0x{byte} at "
                        f"column {bad.start + 1}); if the file is in another encoding, name it in "
                        f"{self.setting.format('encoding')} (e.g. cp1252 for Windows files, latin-1)"
                    )
        return (f"{self.path}: not valid {self.encoding} text ({exc.reason}); "
                f"name its encoding in {self.setting.format('encoding')}")

    def _ragged_problem(self, exc: Exception) -> str:
        for _, line, fields, expected in self._records():
            if fields != expected:
                cause = (f"a cell holding the delimiter {self.delimiter!r} must be quoted" if fields > expected
                         else "every row needs a cell, maybe empty, for each column")
                return (f"{self.path}, line {line}: {fields} fields where the header has {expected} "
                        f"(a ragged row; {cause})")
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        return f"{self.path}: not a readable {self.format.upper()} file ({first})"

    def _records(self) -> Iterator[tuple[int, int, int, int]]:
        """``(row, first line, fields, header fields)`` per data row of a text table, blank lines
        skipped as pandas does; JSON Lines rows have one field."""
        with self._text() as handle:
            if self.format == "jsonl":
                rows = (number for number, line in enumerate(handle, 1) if line.strip())
                yield from ((row, number, 1, 1) for row, number in enumerate(rows))
                return
            reader = csv.reader(handle, delimiter=self.delimiter or ",")
            expected, row, previous = None, 0, 0
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if not record:
                    continue
                if expected is None:
                    expected = len(record)
                    continue
                yield row, start, len(record), expected
                row += 1

    def _line_starts(self, rows: set[int]) -> dict[int, tuple[int, int, int]]:
        found = {}
        for row, line, fields, expected in self._records():
            if row in rows:
                found[row] = (line, fields, expected)
                if len(found) == len(rows):
                    break
        return found


def _frame(pd: Any, records: list[dict[str, Any]], start: int) -> Any:
    """Records as a DataFrame indexed from ``start``; values keep their JSON types (object
    columns: an integer stays an integer even where other rows lack a value)."""
    return pd.DataFrame(records, dtype=object, index=range(start, start + len(records)))


def missing_column(where: str, column: str, have: list[str], delimiter: str = "data.dataset.delimiter") -> str:
    """The message for a column ``where`` lacks: the columns it has, and the nearest (or, for a
    single column named like ``a;b``, the ``delimiter`` setting to change)."""
    import difflib

    shown = ", ".join(repr(c) for c in have) if have else "none"
    glued = [d for d in (";", "\t", "|", ",") if len(have) == 1 and d in have[0]]
    if glued:  # one column whose name holds a delimiter: the file uses another one
        return (f"{where} has no column '{column}'; its one column is {shown}: set "
                f"{delimiter}={glued[0]!r} if that is what separates its cells")
    near = difflib.get_close_matches(column, have, n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    return f"{where} has no column '{column}'{hint}; its columns: {shown}"


def rows_phrase(places: list[str], total: int) -> str:
    """``line 4, line 9 and 3 more``: the first places where something is, and how many else."""
    shown = ", ".join(places[:SHOWN])
    return shown + (f" and {total - SHOWN} more" if total > SHOWN else "")


# ---------------------------------------------------------------------------------------------
# Cells


def label_name(value: Any) -> str | None:
    """A label cell as a label name: text stripped, numbers in their plain form (``3`` and
    ``3.0`` give ``"3"``, ``2.5`` gives ``"2.5"``), ``true``/``false``; None when missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if number != number:  # NaN: pandas' missing value
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip() or None


def is_missing(value: Any) -> bool:
    """None, NaN, pandas' NA or NaT (a list of labels is never missing as a whole)."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return False
    import pandas as pd

    return bool(pd.isna(value))


def cell_text(value: Any) -> str:
    """A text cell as text: a missing cell is empty, a number its plain form (``3``, not ``3.0``)."""
    if isinstance(value, str):
        return value
    return "" if is_missing(value) else label_name(value) or ""


def joined_texts(frame: Any, columns: list[str]) -> list[str]:
    """Each row's text cells in ``columns`` joined with one space (empty cells left out)."""
    cells = [frame[c].tolist() for c in columns]
    if len(cells) == 1:
        return [cell_text(value) for value in cells[0]]
    return [" ".join(part for part in map(cell_text, row) if part.strip()) for row in zip(*cells, strict=True)]


# ---------------------------------------------------------------------------------------------
# Convenience


def read_table(path: str | os.PathLike, columns: list[str] | None = None, *, delimiter: str | None = None,
               encoding: str = "utf-8", setting: str = "data.dataset.{}") -> Any:
    """The table at ``path`` as a DataFrame (format by suffix; see :class:`TableFile`)."""
    return TableFile.at(path, delimiter=delimiter, encoding=encoding, setting=setting).read(columns)


def iter_table(path: str | os.PathLike, rows: int, columns: list[str] | None = None, *,
               delimiter: str | None = None, encoding: str = "utf-8",
               setting: str = "data.dataset.{}") -> Iterator[Any]:
    """The table at ``path`` in DataFrames of at most ``rows`` rows, read one at a time."""
    if rows < 1:
        raise ValueError("rows must be positive")
    return TableFile.at(path, delimiter=delimiter, encoding=encoding, setting=setting).chunks(rows, columns)


# ---------------------------------------------------------------------------------------------
# Writing


class TableWriter:
    """Writes a table chunk by chunk (format by suffix, UTF-8 text) to a temporary sibling of
    ``path``, which becomes ``path`` only when the ``with`` block ends without an error: a crash
    or Ctrl-C midway leaves whatever ``path`` held before, never half a table.

    Every chunk must have the columns of the first (CSV/TSV need one header; Parquet one schema)::

        with TableWriter("scored.csv") as out:
            for chunk in iter_table("big.csv", 10_000):
                out.write(score(chunk))
    """

    def __init__(self, path: str | os.PathLike, *, delimiter: str | None = None) -> None:
        self.file = TableFile.at(path, delimiter=delimiter, must_exist=False)
        self.rows = 0
        self.chunks = 0
        self._stack = ExitStack()
        self._handle: Any = None
        self._text: Any = None
        self._parquet: Any = None
        self._columns: list[str] | None = None

    def __enter__(self) -> TableWriter:
        if self.file.format == "parquet":
            self._parquet_module()  # refuse before anything is written
        self._handle = self._stack.enter_context(atomic_file(self.file.path, "wb"))
        try:
            if self.file.format != "parquet":
                raw = self._handle
                if self.file.gzipped:  # level 6 as the gzip tool; 9 takes three times as long
                    raw = gzip.GzipFile(fileobj=self._handle, mode="wb", compresslevel=6, mtime=0)
                self._text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        except BaseException:  # a Ctrl-C or SIGTERM here: no __exit__ will remove the temporary file
            self._stack.close()
            raise
        return self

    def write(self, frame: Any) -> None:
        """Append the rows of ``frame`` (its index is not written)."""
        if self._handle is None:
            raise RuntimeError("use TableWriter in a with block")
        columns = [str(c) for c in frame.columns]
        if self._columns is None:
            self._columns = columns
        elif columns != self._columns:
            raise DataError(
                f"{self.file.path}: a chunk with the columns {columns} after chunks with {self._columns}; "
                "every chunk of a table needs the same columns"
            )
        if self.file.format == "parquet":
            self._write_parquet(frame)
        elif self.file.format == "jsonl":
            text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
            self._text.write(text if not text or text.endswith("\n") else text + "\n")
        else:
            frame.to_csv(self._text, sep=self.file.delimiter, index=False, header=self.chunks == 0)
        self.rows += len(frame)
        self.chunks += 1

    def _parquet_module(self) -> Any:
        try:
            import pyarrow
            import pyarrow.parquet
        except ImportError:
            raise DataError(
                f"{self.file.path}: writing Parquet needs pyarrow, which is not installed; {PARQUET_INSTALL}"
            ) from None
        return pyarrow

    def _write_parquet(self, frame: Any) -> None:
        pa = self._parquet_module()
        if self._parquet is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._parquet = pa.parquet.ParquetWriter(self._handle, table.schema)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False, schema=self._parquet.schema)
        self._parquet.write_table(table)

    def _finish(self) -> None:
        if self.file.format == "parquet" and self._parquet is None:  # no chunk: an empty table
            self._parquet_module().parquet.write_table(self._parquet_module().table({}), self._handle)
        if self._parquet is not None:
            self._parquet.close()
        elif self._text is not None:
            self._text.flush()
            if self.file.gzipped:
                self._text.close()  # writes the gzip trailer; the file itself stays open
            else:
                self._text.detach()

    def __exit__(self, *exc_info: Any) -> bool:
        if exc_info[0] is None:
            try:
                self._finish()
            except BaseException as exc:
                self._stack.__exit__(type(exc), exc, exc.__traceback__)
                raise
        else:
            with contextlib.suppress(Exception):
                self._finish()  # release the writers while their file is open; it is removed next
        return bool(self._stack.__exit__(*exc_info))
