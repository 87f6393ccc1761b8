"""Where zoo prints: rich consoles for results (stdout) and for progress and errors (stderr)."""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import Any

from rich.console import Console
from rich.table import Table


@cache
def out() -> Console:
    """Results: tables and JSON, on stdout."""
    return Console(soft_wrap=True)


@cache
def err() -> Console:
    """Progress, warnings and errors, on stderr."""
    return Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no markup or wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    """A simple table of strings."""
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*("" if cell is None else str(cell) for cell in row))
    return result
