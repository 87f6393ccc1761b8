"""Where zoo prints: rich consoles for results (stdout) and for progress and errors (stderr).

Width: ``COLUMNS`` when it is set to a positive number; else the terminal's; else, when output
goes to a file, a pipe or a CI log, :data:`LOG_WIDTH`, so that a row of ``zoo recipes`` or
``zoo list`` stays on one line instead of being folded into one-word lines at rich's default
of 80. A table too wide for the width even folded is printed as one block per row instead.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import IO, Any, TextIO

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markup import escape
from rich.table import Table
from rich.text import Text

#: The width of output that goes to no terminal and has no ``COLUMNS``.
LOG_WIDTH = 200
#: A column narrower than this (or than its longest word, if shorter) is not worth reading.
MIN_COLUMN = 10


def width_for(stream: IO[str]) -> int | None:
    """``COLUMNS`` if positive; else ``None`` (rich asks the terminal) or :data:`LOG_WIDTH`."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if stream.isatty() else LOG_WIDTH


@cache
def out() -> Console:
    """Results: tables and JSON, on stdout."""
    return Console(soft_wrap=True, width=width_for(sys.stdout))


@cache
def err() -> Console:
    """Progress, warnings and errors, on stderr."""
    return Console(stderr=True, soft_wrap=True, width=width_for(sys.stderr))


#: Where :func:`print_json` writes while :func:`json_only_stdout` holds stdout (else ``None``).
_json_stream: TextIO | None = None


def print_json(data: Any, indent: int | None = 2) -> None:
    """Machine-readable output: plain, strict JSON on stdout, no markup or wrapping.

    ``indent=None`` writes one line (JSON Lines, flushed at once, for streamed answers). NaN and
    infinities are refused (strict parsers reject them): zoo reports non-finite values as errors.
    """
    stream = _json_stream or sys.stdout
    stream.write(json.dumps(data, indent=indent, default=str, allow_nan=False) + "\n")
    stream.flush()


@contextmanager
def json_only_stdout() -> Iterator[None]:
    """Meanwhile, only :func:`print_json` reaches stdout; anything else written there goes to stderr.

    Plugins run inside every command (registration, lifecycle hooks) and may print, as may the
    C libraries and child processes they call; a script reading ``zoo ... --json`` would get
    broken JSON. So ``sys.stdout`` is stderr meanwhile and, when both are real files, so is
    file descriptor 1; the JSON goes to a duplicate of the original stdout.
    """
    global _json_stream
    original = sys.stdout
    original.flush()
    fds = _file_descriptors(original, sys.stderr)
    if fds is None:
        stream = original
    else:
        out_fd, err_fd = fds
        saved = os.dup(out_fd)
        os.dup2(err_fd, out_fd)
        stream = os.fdopen(saved, "w", encoding="utf-8")
    sys.stdout, _json_stream = sys.stderr, stream
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stdout, _json_stream = original, None
        if fds is not None:
            try:
                stream.flush()  # raises BrokenPipeError when the reader has gone (| head -1)
            finally:
                os.dup2(saved, out_fd)
                _close_quietly(stream)


def _close_quietly(stream: TextIO) -> None:
    """Close ``stream``, dropping what it still holds if its reader has gone."""
    try:
        stream.close()
    except BrokenPipeError:
        pass


def reader_gone() -> int:
    """Exit status once stdout's reader has closed the pipe (``zoo predict RUN - | head -1``).

    Nothing is wrong with zoo, so no traceback; stdout is pointed at ``/dev/null`` so that
    Python's own flush at exit cannot fail again. 1, as rich gives when a table meets a closed pipe.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (a test's capture)
        pass
    return 1


def _file_descriptors(*streams: TextIO) -> tuple[int, ...] | None:
    """The streams' file descriptors, or ``None`` if one has none (a test's capture buffer)."""
    try:
        return tuple(stream.fileno() for stream in streams)
    except (AttributeError, OSError, ValueError):
        return None


def printable(value: Any, newlines: bool = False) -> str:
    """``value`` as text with its control characters (and any other non-printable ones, such as
    bidirectional overrides) shown as escapes (``\\x1b``), line breaks kept only with ``newlines``."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " or (newlines and char == "\n")
                   else char.encode("unicode_escape").decode("ascii") for char in text)


def safe(value: Any, newlines: bool = False) -> str:
    """``value`` as rich text that prints as itself: :func:`printable`, with rich markup escaped.

    Everything zoo prints from data (labels, texts, names, paths, and messages quoting them) goes
    through here, so a label ``[/]`` cannot break rich's markup and one holding terminal escape
    codes or bidirectional overrides cannot drive or disguise the terminal.
    """
    return escape(printable(value, newlines))


class ReadableTable:
    """A table, or, where the width cannot hold its columns readably, one block per row."""

    def __init__(self, title: str | None, columns: list[str], rows: list[list[str]]) -> None:
        self.title, self.columns, self.rows = title, columns, rows

    def _needed_width(self) -> int:
        """Columns at :data:`MIN_COLUMN` (or their longest word), plus borders and padding."""
        def longest_word(cell: str) -> int:
            return max((len(word) for word in Text.from_markup(cell).plain.split()), default=0)

        widths = [min(MIN_COLUMN, max(longest_word(cell) for cell in [name, *(row[i] for row in self.rows)]))
                  for i, name in enumerate(self.columns)]
        return sum(widths) + 3 * len(widths) + 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width >= self._needed_width():
            yield self._table()
        else:
            yield Group(*self._records())

    def _table(self) -> Table:
        result = Table(title=self.title, title_justify="left")
        for column in self.columns:
            result.add_column(column, overflow="fold")
        for row in self.rows:
            result.add_row(*row)
        return result

    def _records(self) -> Iterator[Text]:
        if self.title:
            yield Text.from_markup(self.title, style="italic")  # markup, as in the table's title
        for row in self.rows:
            yield Text("")
            for column, cell in zip(self.columns, row):  # a cell's further lines indented under it
                yield Text.from_markup(f"[bold]{column}[/]: " if column else "") + Text.from_markup(
                    cell.replace("\n", "\n  "))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> ReadableTable:
    """A simple table of strings (rich markup allowed in cells)."""
    return ReadableTable(title, columns, [["" if cell is None else str(cell) for cell in row] for row in rows])
