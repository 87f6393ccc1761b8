"""The table dataset: your own files and DataFrames, labels, splits, multi-label, every refusal."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from plugin_packages import run_zoo
from zoo.cli import main
from zoo.data.batching import collate
from zoo.data.prepare import prepare_data
from zoo.errors import DataError, ZooError
from zoo.plugins import get_registry
from zoo.spec import load_spec
from zoo.tables import TableWriter

TRAIN = """id,subject,body,queue
1,Refund,I want my money back,billing
2,Login,Cannot log in since yesterday,tech
3,Invoice,Wrong amount on the invoice,billing
4,Crash,The app crashes on start,tech
5,Card,My card was charged twice,billing
6,Password,The reset mail never arrives,tech
"""
VALID = "id,subject,body,queue\n7,Plan,Please change my plan,billing\n8,Error,Error 500 on the dashboard,tech\n"
TEST = "id,subject,body,queue\n9,VAT,VAT missing on the invoice,billing\n10,Slow,Pages load slowly,tech\n"


def write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def spec_data(**dataset) -> dict:
    table = {"type": "table", "train": "train.csv", "valid": "valid.csv", "test": "test.csv",
             "text": "body", "label": "queue", **dataset}
    return {"data": {"dataset": table}}


def spec_file(folder: Path, **dataset) -> Path:
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(spec_data(**dataset)), encoding="utf-8")
    return path


def prepare(**dataset):
    return prepare_data(load_spec(spec_data(**dataset)), get_registry())


def zoo_data(capsys, *args: str) -> tuple[int, str, str]:
    """``zoo data ARGS`` in this process (fast): exit status, stdout, stderr."""
    status = main(["data", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def tickets(tmp_path, monkeypatch, data_cache):
    """A folder with train/valid/test CSVs of support tickets, made the current folder."""
    write(tmp_path, {"train.csv": TRAIN, "valid.csv": VALID, "test.csv": TEST})
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# What works


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".csv.gz"])
def test_every_format_through_zoo_data(tickets, capsys, suffix):
    for name, content in {"train": TRAIN, "valid": VALID, "test": TEST}.items():
        frame = pd.read_csv(pd.io.common.StringIO(content), dtype=str)
        with TableWriter(tickets / f"{name}{suffix}") as out:
            out.write(frame)
    spec = spec_file(tickets, train=f"train{suffix}", valid=f"valid{suffix}", test=f"test{suffix}")
    status, out, _ = zoo_data(capsys, "--spec", str(spec), "--json")
    info = json.loads(out)
    assert status == 0 and info["labels"] == ["billing", "tech"] and info["multilabel"] is False
    assert info["counts"] == {"train": {"billing": 3, "tech": 3}, "valid": {"billing": 1, "tech": 1},
                              "test": {"billing": 1, "tech": 1}}
    assert info["source"] == f"train train{suffix}, valid valid{suffix}, test test{suffix}"


def test_the_installed_command_prepares_a_csv_and_prints_the_table(tickets):
    result = run_zoo("data", "--spec", str(spec_file(tickets)), cwd=tickets,
                     env={"ZOO_CACHE_DIR": str(tickets / "cache")})
    assert result.returncode == 0, result.stderr.decode()
    table = result.stdout.decode()
    assert "table: train train.csv, valid valid.csv, test test.csv" in table
    assert "billing" in table and "tech" in table and "cache (built)" in table
    write(tickets, {"valid.csv": VALID + "9,Sale,Buy now, pay later,billing\n"})
    result = run_zoo("data", "--spec", str(spec_file(tickets)), cwd=tickets,
                     env={"ZOO_CACHE_DIR": str(tickets / "cache")})
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        "error: valid.csv, line 4: 5 fields where the header has 4 (a ragged row; a cell holding the "
        "delimiter ',' must be quoted)"
    ]


def test_text_from_several_columns_is_joined_with_one_space(tickets, data_registry):
    write(tickets, {"train.csv": TRAIN + '11,,"Only a body",tech\n12,"Only a subject",,billing\n'})
    config = {"type": "table", "train": "train.csv", "valid": "valid.csv", "test": "test.csv",
              "text": ["subject", "body"], "label": "queue"}
    splits = data_registry.build("dataset", config).load(None, tickets / "cache")
    assert splits["train"].texts[0] == "Refund I want my money back"
    assert splits["train"].texts[-2:] == ["Only a body", "Only a subject"]


def test_valid_and_test_drawn_from_train_are_stratified_seeded_and_disjoint(tmp_path, data_registry):
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(100)], "label": ["a"] * 60 + ["b"] * 40})
    dataset = data_registry.build("dataset", {"type": "table", "train": frame, "valid_fraction": 0.1,
                                              "test_fraction": 0.2})
    splits = dataset.load(None, tmp_path, seed=1)
    assert {name: Counter(split.labels) for name, split in splits.items()} == {
        "train": {0: 42, 1: 28}, "valid": {0: 6, 1: 4}, "test": {0: 12, 1: 8},
    }
    texts = {name: split.texts for name, split in splits.items()}
    assert sorted(sum(texts.values(), []), key=lambda t: int(t.split()[1])) == frame["text"].tolist()
    for split in texts.values():  # each keeps the table's order
        assert split == sorted(split, key=lambda t: int(t.split()[1]))
    assert dataset.load(None, tmp_path, seed=1)["test"].texts == texts["test"]
    assert dataset.load(None, tmp_path, seed=2)["test"].texts != texts["test"]
    given_valid = data_registry.build("dataset", {"type": "table", "train": frame, "valid": frame.iloc[:5]})
    drawn = given_valid.load(None, tmp_path, seed=1)
    assert len(drawn["valid"]) == 5 and len(drawn["test"]) == 10 and len(drawn["train"]) == 90


def test_label_order_numbers_numerically_else_as_text_or_as_given(tmp_path, data_registry):
    def labels(column, **config):
        frame = pd.DataFrame({"text": [f"t{i}" for i in range(len(column))], "label": column})
        dataset = data_registry.build("dataset", {"type": "table", "train": frame, "valid": frame,
                                                  "test": frame, **config})
        splits = dataset.load(None, tmp_path)
        return [dataset.labels[i] for i in splits["train"].labels], dataset.labels

    assert labels(["10", "2", "1", "2"])[1] == ["1", "2", "10"]
    assert labels(["10", "2", "b", "a"])[1] == ["10", "2", "a", "b"]
    # integers made floats by a missing value elsewhere stay "3"; a real fraction stays one
    assert labels([3, 1.0, 2.5, 3])[0] == ["3", "1", "2.5", "3"]
    assert labels(["pos", "neg", "neg"], labels=["pos", "neg"]) == (["pos", "neg", "neg"], ["pos", "neg"])
    assert labels([1, 2, 2], labels=[2, 1])[1] == ["2", "1"]


def test_jsonl_and_parquet_numbers_become_plain_label_names(tickets, capsys):
    write(tickets, {
        "train.jsonl": "".join(json.dumps({"text": f"review {i}", "stars": s}) + "\n"
                               for i, s in enumerate([1, 10, 2, 10, 1])),
        "extra.jsonl": '{"text": "no stars"}\n',
    })
    pd.DataFrame({"text": ["a", "b"], "stars": [10.0, 2.0]}).to_parquet(tickets / "test.parquet")
    pd.DataFrame({"text": ["c", "d"], "stars": [1.0, np.nan]}).to_parquet(tickets / "valid.parquet")
    spec = spec_file(tickets, train="train.jsonl", valid="valid.parquet", test="test.parquet",
                     text="text", label="stars")
    status, _, err = zoo_data(capsys, "--spec", str(spec))
    assert status == 2
    assert err.strip() == "error: valid.parquet: no label (column 'stars') at row 2; every row needs one"
    pd.DataFrame({"text": ["c", "d"], "stars": [1.0, 2.0]}).to_parquet(tickets / "valid.parquet")
    status, out, _ = zoo_data(capsys, "--spec", str(spec), "--json")
    assert status == 0 and json.loads(out)["labels"] == ["1", "2", "10"]


def test_multilabel_cells_become_multi_hot_rows(tickets, capsys):
    write(tickets, {
        "train.tsv": "text\ttags\nslow app\tperf | mobile\nbill wrong\tbilling\ncrash on phone\tmobile|bug\n"
                     "app slow again\tperf\n",
        "valid.tsv": "text\ttags\nphone crash\tbug|mobile|bug\n",
        "test.jsonl": '{"text": "slow bill", "tags": ["perf", "billing"]}\n{"text": "x", "tags": "bug"}\n',
    })
    spec = spec_file(tickets, train="train.tsv", valid="valid.tsv", test="test.jsonl", text="text",
                     label="tags", label_separator="|")
    data = prepare_data(load_spec(str(spec)), get_registry())
    assert data.multilabel and data.info["multilabel"] and data.labels == ["billing", "bug", "mobile", "perf"]
    assert data.splits["train"].labels.dtype == np.int8
    assert data.splits["train"].labels.tolist() == [[0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]
    assert data.splits["valid"].labels.tolist() == [[0, 1, 1, 0]]  # a label repeated in a cell counts once
    assert data.splits["test"].labels.tolist() == [[1, 0, 0, 1], [0, 1, 0, 0]]
    assert data.info["counts"]["train"] == {"billing": 1, "bug": 1, "mobile": 2, "perf": 2}
    batch = collate(data.splits["train"], np.array([0, 2]))
    assert batch.labels.dtype == torch.float32
    assert batch.labels.tolist() == [[0, 0, 1, 1], [0, 1, 1, 0]]
    again = prepare_data(load_spec(str(spec)), get_registry())  # from the cache, still multi-label
    assert again.info["cache_hit"] and again.multilabel
    assert np.array_equal(again.splits["test"].labels, data.splits["test"].labels)
    status, out, _ = zoo_data(capsys, "--spec", str(spec))
    assert status == 0 and "multi-label" in out
    train_row = next([c.strip() for c in line.split("│")][1:-1] for line in out.splitlines() if "│ train" in line)
    assert train_row[:6] == ["train", "1", "1", "2", "2", "4"]  # texts per label, then texts


def test_jsonl_lists_of_labels_are_multilabel_without_a_separator(tmp_path, data_registry):
    path = tmp_path / "train.jsonl"
    path.write_text('{"t": "a", "l": ["x", "y"]}\n{"t": "b", "l": "y"}\n{"t": "c", "l": ["z"]}\n')
    dataset = data_registry.build("dataset", {"type": "table", "train": str(path), "valid": str(path),
                                              "test": str(path), "text": "t", "label": "l"})
    splits = dataset.load(None, tmp_path)
    assert dataset.multilabel and dataset.labels == ["x", "y", "z"]
    assert splits["train"].labels == [[0, 1], [1], [2]]


def test_editing_a_file_prepares_it_again(tickets):
    first = prepare()
    assert prepare().info["cache_hit"]
    stat = (tickets / "train.csv").stat()
    (tickets / "train.csv").write_text(TRAIN.replace("money", "cash!"))  # same size, new time
    os.utime(tickets / "train.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    edited = prepare()
    assert not edited.info["cache_hit"] and edited.info["cache_path"] != first.info["cache_path"]
    assert "cash" in edited.vocab and "cash" not in first.vocab
    with open(tickets / "test.csv", "a") as handle:  # longer
        handle.write("11,Extra,One more ticket,tech\n")
    assert prepare().info["counts"]["test"] == {"billing": 1, "tech": 2}


def test_drop_empty_leaves_empty_texts_out_and_says_how_many(tickets, capsys):
    write(tickets, {"train.csv": TRAIN + "11,x,,tech\n12,y,   ,billing\n"})
    status, out, err = zoo_data(capsys, "--spec", str(spec_file(tickets, drop_empty=True)), "--json")
    assert status == 0 and json.loads(out)["counts"]["train"] == {"billing": 3, "tech": 3}
    assert err.strip() == (
        "zoo: warning: train.csv: left out 2 rows with empty text (line 8, line 9), as "
        "data.dataset.drop_empty asks"
    )


def test_labels_the_model_cannot_learn_are_warned_about(tmp_path, data_registry, capsys):
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(60)], "label": [str(i % 30) for i in range(60)]})
    dataset = data_registry.build("dataset", {"type": "table", "train": frame, "valid": frame, "test": frame,
                                              "labels": [*map(str, range(30)), "spare"]})
    dataset.load(None, tmp_path)
    assert capsys.readouterr().err.splitlines() == [
        "zoo: warning: the train DataFrame has no row with the label spare; the model cannot learn it",
        "zoo: warning: the train DataFrame: 31 labels in 60 rows (column 'label'); is that the label "
        "column? A classifier needs several rows per label",
    ]


def test_many_labels_are_listed_one_per_row(tmp_path, data_cache, capsys):
    frame = pd.DataFrame({"text": [f"t{i} x" for i in range(48)], "topic": [f"topic{i % 12}" for i in range(48)]})
    frame.to_csv(tmp_path / "topics.tsv", sep="\t", index=False)
    spec = tmp_path / "s.yaml"
    train = tmp_path / "topics.tsv"
    spec.write_text(f"data: {{dataset: {{type: table, train: {train}, label: topic, delimiter: \\t}}}}")
    status, out, _ = zoo_data(capsys, "--spec", str(spec))
    assert status == 0 and "12 of 12" in out and "texts per label" in out
    assert sum(line.startswith("│ topic") for line in out.splitlines()) == 12


def test_another_labelled_file_is_read_against_a_trained_models_labels(tickets, data_registry):
    """What ``zoo evaluate RUN --input FILE`` and ``zoo predict --input`` need of the dataset."""
    dataset = data_registry.build("dataset", {"type": "table", "train": "train.csv", "text": ["subject", "body"],
                                              "label": "queue"})
    dataset.labels = ["billing", "sales", "tech"]  # the run's
    split = dataset.read_labelled("test.csv", "the run runs/tickets")
    assert split.texts == ["VAT VAT missing on the invoice", "Slow Pages load slowly"] and split.labels == [0, 2]
    write(tickets, {"other.csv": TEST + "11,Parcel,Where is my parcel,shipping\n"})
    with pytest.raises(DataError) as info:
        dataset.read_labelled("other.csv", "the run runs/tickets")
    assert str(info.value) == (
        "other.csv: label that the run runs/tickets never has, so no model could learn it (column 'queue'): "
        "'shipping' at line 4. Training labels: billing, sales, tech"
    )
    chunk = pd.DataFrame({"subject": ["Hi", None], "body": ["refund please", "app broken"]})
    assert dataset.texts(chunk) == ["Hi refund please", "app broken"]
    with pytest.raises(DataError, match=r"^big.csv has no column 'subject'; its columns: 'body'$"):
        dataset.texts(chunk[["body"]], "big.csv")


def test_zoo_show_marks_the_required_field(capsys):
    assert main(["show", "table", "--json"]) == 0
    fields = {f["field"]: f for f in json.loads(capsys.readouterr().out)["fields"]}
    assert fields["train"]["required"] and not fields["text"]["required"] and fields["text"]["default"] == "text"
    assert main(["show", "table"]) == 0 and "(required)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# DataFrames from Python


def frames() -> dict[str, pd.DataFrame]:
    rows = [(f"{w} {w} film", "pos" if w in ("good", "great") else "neg")
            for w in ["good", "bad", "great", "awful"] * 8]
    frame = pd.DataFrame(rows, columns=["review", "mood"])
    return {"train": frame, "valid": frame.iloc[:8], "test": frame.iloc[8:16]}


def test_dataframes_train_end_to_end_and_the_run_names_them(tmp_path, data_cache, monkeypatch, capsys):
    import zoo

    monkeypatch.chdir(tmp_path)
    spec = zoo.load_spec({
        "data": {"dataset": {"type": "table", **frames(), "text": "review", "label": "mood"}},
        "model": {"embedding": {"dim": 8}, "encoder": {"type": "lstm", "hidden_size": 8},
                  "head": {"type": "mlp", "hidden_sizes": [8]}},
        "train": {"epochs": 3, "batch_size": 4, "optimizer": {"lr": 0.05}},
    }, ["train.seed=3"])
    summary = zoo.train(spec, out=tmp_path / "run")
    assert summary["test"]["count"] == 8
    written = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())["data"]["dataset"]
    assert written["train"].startswith("<DataFrame: 32 rows x 2 columns, sha256 ")
    assert written["valid"].startswith("<DataFrame: 8 rows x 2 columns, sha256 ")
    assert zoo.load(tmp_path / "run").predict(["good good film"])[0]["label"] in ("neg", "pos")
    capsys.readouterr()
    status = main(["evaluate", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "data.dataset.train is <DataFrame: 32 rows x 2 columns" in err
    assert "trained from an in-memory pandas DataFrame" in err and "zoo evaluate RUN --input FILE" in err
    again = zoo.load_spec(spec)  # a spec object given again keeps its frames
    assert again.data.dataset.train is spec.data.dataset.train


def test_a_dataframe_fingerprint_follows_its_content(data_registry):
    train = frames()["train"]

    def dataset(frame):
        return data_registry.build("dataset", {"type": "table", "train": frame, "text": "review", "label": "mood"})

    first = dataset(train).fingerprint(None)
    assert dataset(train.copy()).fingerprint(None) == first
    changed = train.copy()
    changed.loc[3, "review"] = "awful awful movie"
    assert dataset(changed).fingerprint(None) != first


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit status 2, through the CLI and the Python API alike

BAD = {
    "missing file": ({}, {"train": "nowhere.csv"}, ["nowhere.csv does not exist (relative to the current folder"]),
    "unknown suffix": ({"train.xlsx": "x"}, {"train": "train.xlsx"},
                       ["train.xlsx: unknown table format '.xlsx'; use one of .csv, .tsv, .jsonl", ".parquet"]),
    "missing column": ({}, {"text": "message"},
                       ["train.csv has no column 'message'; its columns: 'id', 'subject', 'body', 'queue'"]),
    "empty file": ({"valid.csv": ""}, {}, ["valid.csv is empty: no header, no rows"]),
    "no rows": ({"test.csv": "id,subject,body,queue\n"}, {}, ["test.csv has no rows (only a header)"]),
    "empty text": ({"train.csv": TRAIN + "7,a,,tech\n8,b, ,tech\n"}, {},
                   ["train.csv: empty text (column 'body') at line 8, line 9; fill them, or set "
                    "data.dataset.drop_empty: true"]),
    "nothing left": ({"valid.csv": "id,subject,body,queue\n7,a,,tech\n"}, {"drop_empty": True},
                     ["valid.csv: no rows left once the rows with empty text are left out"]),
    "missing label": ({"train.csv": TRAIN + "7,a,fine text,\n"}, {},
                      ["train.csv: no label (column 'queue') at line 8; every row needs one"]),
    "unseen label": ({"test.csv": TEST + "11,x,Where is my parcel,shipping\n"}, {},
                     ["test.csv: label that training (train.csv) never has, so no model could learn it "
                      "(column 'queue'): 'shipping' at line 4. Training labels: billing, tech"]),
    "outside labels": ({}, {"labels": ["billing", "sales"]},
                       ["train.csv: label outside data.dataset.labels (column 'queue'): 'tech' at "
                        "line 3, line 5, line 7. Valid labels: billing, sales"]),
    "one class": ({"train.csv": TRAIN.replace("tech", "billing")}, {},
                  ["train.csv: every row has the label 'billing' (column 'queue'); a classifier needs "
                   "examples of at least two labels"]),
    "ragged": ({"train.csv": TRAIN + "7,Sale,Buy now, pay later,billing\n"}, {},
               ["train.csv, line 8: 5 fields where the header has 4 (a ragged row; a cell holding the "
                "delimiter ',' must be quoted)"]),
    "short row": ({"train.csv": TRAIN + "7,Sale\n"}, {},
                  ["train.csv: empty text (column 'body') at line 8 (a ragged row: 2 fields where the "
                   "header has 4)"]),
    "not utf-8": ({"train.csv": TRAIN.encode() + "7,Café,Déjà vu,tech\n".encode("cp1252")}, {},
                  ["train.csv, line 8: not valid utf-8 text (byte 0xE9 at column 6); if the file is in "
                   "another encoding, name it in data.dataset.encoding (e.g. cp1252"]),
    "bad json line": ({"train.jsonl": '{"body": "a", "queue": "x"}\n{"body": "b", queue: "y"}\n'},
                      {"train": "train.jsonl"},
                      ["train.jsonl, line 2: not valid JSON (Expecting property name enclosed in double "
                       "quotes at column 15); JSON Lines hold one JSON object per line"]),
    "empty label in a cell": ({"train.csv": TRAIN.replace(",billing\n", ",billing||vip\n", 1)},
                              {"label_separator": "|"},
                              ["train.csv, line 2: an empty label in the label cell 'billing||vip' (column "
                               "'queue', label_separator '|'); every label between separators needs a name"]),
    "too few rows": ({}, {"valid": None, "test": None, "valid_fraction": 0.5, "test_fraction": 0.4},
                     ["train.csv has 6 rows: too few to hold out test_fraction 0.4 and valid_fraction 0.5 "
                      "and still train on at least 2"]),
    "data.source": ({}, {}, ["data.source (elsewhere.csv) is not used by the table dataset; name the files "
                             "in data.dataset.train, valid and test"]),
    "a spec written from a DataFrame": ({}, {"train": "<DataFrame: 6 rows x 4 columns, sha256 0123456789abcdef>"},
                                        ["data.dataset.train is <DataFrame: 6 rows x 4 columns, sha256 "
                                         "0123456789abcdef>: this run was trained from an in-memory pandas DataFrame"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_clear_line_on_the_cli_and_a_data_error_in_python(tickets, capsys, case):
    files, dataset, expected = BAD[case]
    write(tickets, files)
    spec = spec_file(tickets, **dataset)
    extra = ["--source", "elsewhere.csv"] if case == "data.source" else []
    status, out, err = zoo_data(capsys, "--spec", str(spec), *extra)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in expected:
        assert fragment in lines[0]
    data = spec_data(**dataset)
    if extra:
        data["data"]["source"] = "elsewhere.csv"
    with pytest.raises(DataError) as info:
        prepare_data(load_spec(data), get_registry())
    assert f"error: {info.value}" == lines[0]
    assert not list((tickets / "cache").glob("prepared/[!.]*"))  # no cache entry was written


def test_a_windows_file_reads_with_its_encoding_named(tickets):
    write(tickets, {"train.csv": TRAIN.encode() + "7,Café,Déjà vu,tech\n".encode("cp1252")})
    write(tickets, {name: (tickets / name).read_text().encode("cp1252") for name in ("valid.csv", "test.csv")})
    data = prepare(encoding="cp1252", text=["subject", "body"])
    assert "déjà" in data.vocab or "Déjà" in data.vocab


def test_parquet_without_pyarrow_says_how_to_install_it(tickets, capsys, monkeypatch):
    pd.read_csv(tickets / "train.csv").to_parquet(tickets / "train.parquet")
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    monkeypatch.setitem(__import__("sys").modules, "pyarrow.parquet", None)
    status, _, err = zoo_data(capsys, "--spec", str(spec_file(tickets, train="train.parquet")))
    assert status == 2 and err.strip() == (
        "error: train.parquet: reading Parquet needs pyarrow, which is not installed; pip install 'rnn-zoo[parquet]'"
    )


@pytest.mark.parametrize("field, value, message", [
    ("valid_fraction", 0.9, "data.dataset.valid_fraction: Input should be less than or equal to 0.5"),
    ("delimiter", ";;", "data.dataset.delimiter: String should have at most 1 character"),
    ("delimiter", "", "data.dataset.delimiter: String should have at least 1 character"),
    ("encoding", "utf-9", "unknown encoding 'utf-9' (e.g. utf-8, utf-8-sig, cp1252, latin-1)"),
    ("labels", ["a", "a"], "each label once; repeated: a"),
    ("text", ["queue"], "the label column 'queue' cannot also be a text column"),
    ("train", 3, "must be the path of a .csv .tsv .jsonl/.ndjson"),
])
def test_bad_table_settings_are_spec_errors(tickets, capsys, field, value, message):
    status, _, err = zoo_data(capsys, "--spec", str(spec_file(tickets, **{field: value})))
    assert status == 2 and message in err
    with pytest.raises(ZooError, match="invalid spec"):
        load_spec(spec_data(**{field: value}))
