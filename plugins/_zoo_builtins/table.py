"""Built-in dataset ``table``: your own labelled texts, from files or pandas DataFrames.

Registration and config only; the reader lives in :mod:`_zoo_builtins.table_reader` and is
imported when the dataset is built, so listing components imports neither pandas nor numpy.
"""

from __future__ import annotations

import codecs
import os
import sys
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator

from zoo import hookimpl
from zoo.tables import label_name

SUFFIXES_TEXT = ".csv .tsv .jsonl/.ndjson (also gzipped: .csv.gz ...) or .parquet"


def is_frame(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame (without importing pandas: if pandas is not
    imported, nothing can be a DataFrame)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _source(value: Any, optional: bool) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if (isinstance(value, str) and value.strip()) or is_frame(value):
        return value
    raise ValueError(f"must be the path of a {SUFFIXES_TEXT} file, or a pandas DataFrame (got {value!r})")


def _dump_source(value: Any) -> Any:
    """In a written spec a DataFrame becomes a placeholder naming its size and content hash."""
    if is_frame(value):
        from _zoo_builtins.table_reader import frame_placeholder

        return frame_placeholder(value)
    return value


_SCHEMA = {"type": "string", "description": f"A {SUFFIXES_TEXT} file (from Python: also a pandas DataFrame)."}
TableSource = Annotated[
    Any,
    BeforeValidator(lambda value: _source(value, optional=False)),
    PlainSerializer(_dump_source, when_used="json"),
    WithJsonSchema(_SCHEMA),
]
OptionalTableSource = Annotated[
    Any,
    BeforeValidator(lambda value: _source(value, optional=True)),
    PlainSerializer(_dump_source, when_used="json"),
    WithJsonSchema({"anyOf": [_SCHEMA, {"type": "null"}]}),
]


def _label_names(values: Any) -> Any:
    if not isinstance(values, list):
        return values
    names = [label_name(v) for v in values]
    if None in names:
        raise ValueError("a label cannot be empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"each label once; repeated: {', '.join(repeated)}")
    return names


def _columns(value: Any) -> Any:
    if isinstance(value, list):
        if not value:
            raise ValueError("name at least one text column")
        if len(set(value)) != len(value):
            raise ValueError("each text column once")
    return value


def _unescaped(value: Any) -> Any:
    """``\\t`` as written in a YAML file without double quotes means a tab."""
    return "\t" if value == "\\t" else value


def _known_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, utf-8-sig, cp1252, latin-1)") from None
    return value


class TableConfig(BaseModel):
    """Labelled texts from CSV, TSV, JSON Lines or Parquet files (by suffix), or DataFrames.

    Relative paths are read from the current folder. Without ``valid``/``test`` files, those
    splits are drawn from ``train`` (``valid_fraction``, ``test_fraction``), in proportion to
    the labels for single-label data, seeded by ``data.seed``. Labels are sorted (numerically
    when every label is a number) unless ``labels`` fixes them.
    """

    model_config = ConfigDict(extra="forbid")

    train: TableSource = Field(description="The training table: a file, or from Python a DataFrame.")
    valid: OptionalTableSource = Field(None, description="The validation table (else valid_fraction of train).")
    test: OptionalTableSource = Field(None, description="The test table (else test_fraction of train).")
    text: Annotated[str | list[str], BeforeValidator(_columns)] = Field(
        "text", min_length=1, description="The text column, or a list of columns joined with one space."
    )
    label: str = Field("label", min_length=1, description="The label column.")
    labels: Annotated[list[str] | None, BeforeValidator(_label_names)] = Field(
        None, min_length=2,
        description="The labels in order (ids 0, 1, ...); any other label in the data is an error.",
    )
    label_separator: str | None = Field(
        None, min_length=1,
        description="The label cell holds several labels separated by this (multi-label data, e.g. '|').",
    )
    delimiter: Annotated[str | None, BeforeValidator(_unescaped)] = Field(
        None, min_length=1, max_length=1, description="CSV/TSV cell delimiter (default: ',' for .csv, tab for .tsv)."
    )
    encoding: Annotated[str, BeforeValidator(_known_encoding)] = Field(
        "utf-8", description="Text encoding of CSV/TSV/JSON Lines files (e.g. cp1252 for Windows files)."
    )
    drop_empty: bool = Field(
        False, description="Drop rows whose text is empty or missing (and say how many) instead of refusing them."
    )
    valid_fraction: float = Field(0.1, gt=0, le=0.5, description="Share of train held out when valid is not given.")
    test_fraction: float = Field(0.1, gt=0, le=0.5, description="Share of train held out when test is not given.")

    @model_validator(mode="after")
    def _distinct_columns(self) -> TableConfig:
        texts = [self.text] if isinstance(self.text, str) else self.text
        if self.label in texts:
            raise ValueError(f"the label column '{self.label}' cannot also be a text column")
        if self.valid is None and self.test is None and self.valid_fraction + self.test_fraction >= 1:
            raise ValueError("valid_fraction + test_fraction must leave rows for training (sum below 1)")
        return self

    @property
    def text_columns(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)


@hookimpl
def register_components(registry) -> None:
    registry.register(
        "dataset",
        "table",
        config=TableConfig,
        factory="_zoo_builtins.table_reader:build",
        description="Your labelled texts: CSV, TSV, JSON Lines or Parquet files, or DataFrames.",
    )
