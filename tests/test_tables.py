"""zoo.tables: every format by suffix, chunked reading, the atomic writer, one clear error per fault."""

from __future__ import annotations

import gzip
import sys

import pandas as pd
import pytest

from zoo.errors import DataError
from zoo.tables import SUFFIXES, TableFile, TableWriter, iter_table, read_table

# cells a naive writer or reader gets wrong: delimiters, quotes, a newline, a tab, non-ASCII,
# words pandas would take for missing values
ROWS = pd.DataFrame({
    "text": ['plain', 'with, comma', 'a "quoted" word', 'two\nlines', 'tab\there', 'café ✓', 'NA', 'null'],
    "label": ["a", "b", "a", "b", "a", "b", "a", "b"],
})
FORMATS = [".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".csv.gz", ".tsv.gz", ".jsonl.gz"]


def error(call) -> str:
    with pytest.raises(DataError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_writes_and_reads_back_the_same_cells(tmp_path, suffix):
    path = tmp_path / f"t{suffix}"
    with TableWriter(path) as out:
        out.write(ROWS.iloc[:5])
        out.write(ROWS.iloc[5:])
    back = read_table(path)
    assert back["text"].tolist() == ROWS["text"].tolist()  # NA and null stay words
    assert back["label"].tolist() == ROWS["label"].tolist()
    assert list(back.index) == list(range(len(ROWS)))
    if suffix.endswith(".gz"):
        assert gzip.decompress(path.read_bytes())  # really gzipped
    assert set(SUFFIXES) >= {suffix}


def test_csv_cells_are_strings_as_written_and_columns_are_selected_in_order(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,stars,text\n007,3,x\n8,,y\n", encoding="utf-8")
    frame = read_table(path, ["text", "stars", "id"])
    assert list(frame.columns) == ["text", "stars", "id"]
    assert frame["id"].tolist() == ["007", "8"] and frame["stars"].tolist() == ["3", ""]


def test_jsonl_keeps_integers_where_other_rows_lack_the_value(tmp_path):
    path = tmp_path / "t.jsonl"
    text = '{"text": "a", "stars": 3}\n\n{"text": "b"}\n{"text": "c", "stars": null}\n'
    path.write_text(text, encoding="utf-8-sig")  # with a byte order mark, as some editors write
    frame = read_table(path)
    assert frame["stars"].tolist()[0] == 3 and isinstance(frame["stars"].tolist()[0], int)
    assert pd.isna(frame["stars"].tolist()[1]) and pd.isna(frame["stars"].tolist()[2])
    assert TableFile.at(path).where([0, 1, 2]) == ["line 1", "line 3", "line 4"]  # blank line 2 skipped


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".tsv.gz"])
def test_chunks_of_a_file_larger_than_the_chunk(tmp_path, suffix):
    frame = pd.DataFrame({"text": [f"row {i}" for i in range(25)], "label": [str(i % 3) for i in range(25)]})
    path = tmp_path / f"big{suffix}"
    with TableWriter(path) as out:
        out.write(frame)
    chunks = list(iter_table(path, 10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [list(c.index) for c in chunks] == [list(range(0, 10)), list(range(10, 20)), list(range(20, 25))]
    assert pd.concat(chunks)["text"].tolist() == frame["text"].tolist()
    only = list(iter_table(path, 10, ["label"]))
    assert [list(c.columns) for c in only] == [["label"]] * 3


def test_a_failing_writer_leaves_the_target_as_it_was(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old,content\n")
    with pytest.raises(RuntimeError, match="scoring failed"), TableWriter(target) as out:
        out.write(ROWS)
        raise RuntimeError("scoring failed")
    assert target.read_text() == "old,content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary file left
    fresh = tmp_path / "new.parquet"
    with pytest.raises(KeyboardInterrupt), TableWriter(fresh) as out:
        out.write(ROWS)
        raise KeyboardInterrupt
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_the_writer_refuses_a_chunk_with_other_columns(tmp_path):
    with pytest.raises(DataError, match="every chunk of a table needs the same columns"), \
            TableWriter(tmp_path / "out.tsv") as out:
        out.write(ROWS)
        out.write(ROWS.rename(columns={"label": "other"}))
    assert not (tmp_path / "out.tsv").exists()


def test_line_numbers_count_multiline_cells_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('text,label\n"one\ntwo",a\n\nthree,b\nfour\n', encoding="utf-8")
    table = TableFile.at(path)
    assert table.read()["text"].tolist() == ["one\ntwo", "three", "four"]
    assert table.where([0, 1, 2]) == [
        "line 2", "line 5", "line 6 (a ragged row: 1 field where the header has 2)",
    ]


def test_file_errors_name_the_file_the_line_and_what_is_valid(tmp_path):
    def write(name: str, content: bytes | str) -> str:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    missing = str(tmp_path / "nope.csv")
    assert error(lambda: read_table(missing)) == f"{missing} does not exist"
    message = error(lambda: read_table(write("t.xlsx", "x")))
    assert "unknown table format '.xlsx'" in message and ".csv, .tsv, .jsonl" in message and ".parquet" in message
    message = error(lambda: read_table(write("t.csv", "text,queue\nx,y\n"), ["text", "label"]))
    assert message.endswith("t.csv has no column 'label'; its columns: 'text', 'queue'")
    assert "did you mean 'text'?" in error(lambda: read_table(write("u.csv", "text,label\nx,y\n"), ["txt"]))
    assert error(lambda: read_table(write("semi.csv", "text;label\nx;y\n"), ["text"])).endswith(
        "semi.csv has no column 'text'; its one column is 'text;label': set data.dataset.delimiter=';' "
        "if that is what separates its cells"
    )
    assert read_table(tmp_path / "semi.csv", delimiter=";")["label"].tolist() == ["y"]
    assert error(lambda: read_table(tmp_path)).startswith(f"{tmp_path} is a folder; name a table file in it (.csv")
    assert error(lambda: read_table(write("e.csv", ""))).endswith("e.csv is empty: no header, no rows")
    assert error(lambda: read_table(write("h.csv", "text,label\n"))).endswith("h.csv has no rows (only a header)")
    assert error(lambda: read_table(write("h.jsonl", "\n"))).endswith("h.jsonl has no rows")
    long_row = write("r.csv", 'text,label\n"a\nb",x\nhello, world,y\n')
    assert error(lambda: read_table(long_row)) == (
        f"{long_row}, line 4: 3 fields where the header has 2 (a ragged row; a cell holding the "
        "delimiter ',' must be quoted)"
    )
    first_long = write("f.csv", "text,label\nhello, world,y\n")  # pandas would make 'hello' an index
    assert "f.csv, line 2: 3 fields where the header has 2" in error(lambda: read_table(first_long))
    latin = write("w.csv", "text,label\nfine,a\nnaïve café,b\n".encode("cp1252"))
    assert error(lambda: read_table(latin)) == (
        f"{latin}, line 3: not valid utf-8 text (byte 0xEF at column 3); if the file is in another "
        "encoding, name it in data.dataset.encoding (e.g. cp1252 for Windows files, latin-1)"
    )
    assert read_table(latin, encoding="cp1252")["text"].tolist() == ["fine", "naïve café"]
    assert "name it in --encoding (e.g. cp1252" in error(lambda: read_table(latin, setting="--{}"))
    latin_gz = write("w.jsonl.gz", gzip.compress('{"text": "ok"}\n{"text": "café"}\n'.encode("latin-1")))
    assert "w.jsonl.gz, line 2: not valid utf-8 text (byte 0xE9" in error(lambda: read_table(latin_gz))
    bad_json = write("b.jsonl", '{"text": "a"}\n{"text": "b",}\n')
    assert error(lambda: read_table(bad_json)).startswith(f"{bad_json}, line 2: not valid JSON (")
    assert "line 1: a JSON list where an object" in error(lambda: read_table(write("l.jsonl", "[1, 2]\n")))
    assert "not a complete gzip file" in error(lambda: read_table(write("z.csv.gz", "text\nplain\n")))
    assert "not a readable Parquet file" in error(lambda: read_table(write("p.parquet", "text\n")))
    assert "unknown encoding 'utf-9'" in error(lambda: read_table(latin, encoding="utf-9"))


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    with TableWriter(path) as out:
        out.write(ROWS)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert error(lambda: read_table(path)) == (
        f"{path}: reading Parquet needs pyarrow, which is not installed; pip install 'rnn-zoo[parquet]'"
    )
    message = error(lambda: TableWriter(tmp_path / "o.parquet").__enter__())
    assert "writing Parquet needs pyarrow" in message and not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("suffix, delimiter", [(".csv", ","), (".tsv", "\t"), (".csv.gz", ",")])
def test_a_header_naming_a_column_twice_is_refused(tmp_path, suffix, delimiter):
    """pandas renames the second ``queue`` to ``queue.1``: the first was read as the label without
    a word. Columns without a name (pandas' ``Unnamed: N``) are still fine."""
    path = tmp_path / f"t{suffix}"
    text = delimiter.join(["body", "queue", "queue"]) + "\n" + delimiter.join(["x", "a", "b"]) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
    expected = f"{path}, line 1: the header names the column 'queue' more than once; give each column its own name"
    assert error(lambda: read_table(path, ["body", "queue"])) == expected
    assert error(lambda: read_table(path)) == expected
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text(",,body\n1,2,x\n")
    assert list(read_table(unnamed).columns) == ["Unnamed: 0", "Unnamed: 1", "body"]
