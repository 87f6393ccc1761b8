"""Pretrained word vectors: every format, every fault with its line, coverage counted by hand."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data.vocab import Vocab
from zoo.errors import DataError
from zoo.rundir import RunDir
from zoo.testing import NEGATIVE_WORDS, POSITIVE_WORDS, smoke_train
from zoo.vectors import load_pretrained, read_vectors

# ids: <pad> 0, <unk> 1, good 2 (5 training tokens), bad 3 (4), film 4 (3), the 5 (2)
VOCAB = Vocab(["good", "bad", "film", "the"], [5, 4, 3, 2])
VECTORS = {"good": [0.5, -1.0, 2.0], "film": [1.5, 0.25, -0.125], "unseen": [9.0, 9.0, 9.0]}


def text_file(path: Path, header: bool = False, trailing: str = "", vectors=VECTORS, dim: int = 3) -> Path:
    lines = [f"{len(vectors)} {dim}"] if header else []
    lines += [" ".join([word, *map(str, values)]) + trailing for word, values in vectors.items()]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def binary_file(path: Path, vectors=VECTORS, newline: bool = True, announced: int | None = None) -> Path:
    data = f"{announced or len(vectors)} 3\n".encode()
    for word, values in vectors.items():
        data += word.encode() + b" " + struct.pack("<3f", *values) + (b"\n" if newline else b"")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


FORMATS = {
    "GloVe text, no header": lambda p: text_file(p / "glove.txt"),
    "word2vec text, header": lambda p: text_file(p / "w2v.txt", header=True),
    "fastText .vec, trailing spaces": lambda p: text_file(p / "wiki.vec", header=True, trailing=" "),
    "gzipped text": lambda p: text_file(p / "glove.txt.gz"),
    "word2vec binary": lambda p: binary_file(p / "w2v.bin"),
    "word2vec binary, no newlines": lambda p: binary_file(p / "w2v.bin", newline=False),
    "gzipped word2vec binary": lambda p: binary_file(p / "w2v.bin.gz"),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_fills_the_found_words_and_counts_the_coverage(name, tmp_path):
    path = FORMATS[name](tmp_path)
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(len(VOCAB), 3, padding_idx=0)
    before = embedding.weight.detach().clone()
    coverage = load_pretrained(embedding, VOCAB, path)
    weights = embedding.weight.detach()
    assert torch.equal(weights[2], torch.tensor(VECTORS["good"]))
    assert torch.equal(weights[4], torch.tensor(VECTORS["film"]))
    for untouched in (0, 1, 3, 5):  # padding, <unk>, bad, the: as initialised
        assert torch.equal(weights[untouched], before[untouched])
    assert weights[0].abs().sum() == 0
    # by hand: good and film of the 4 words; 5 + 3 of the 5 + 4 + 3 + 2 training tokens
    expected = {"dim": 3, "file_words": 3, "vocabulary": 4, "found": 2, "coverage": 0.5, "tokens": 14,
                "tokens_found": 8, "token_coverage": 8 / 14}
    assert {key: coverage.to_dict()[key] for key in expected} == expected
    assert coverage.format == ("word2vec binary" if "binary" in name else "text")
    assert "2 of 4 vocabulary words found (50.0%), 57.1% of training tokens" in coverage.describe()


def test_the_first_vector_of_a_repeated_word_wins(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("good 1 1 1\ngood 2 2 2\n")
    found, coverage = read_vectors(path, {"good": 2}, 3)
    assert found[2].tolist() == [1, 1, 1] and coverage.file_words == 2


BAD_TEXT = {
    "a ragged line": ("good 1 2 3\nbad 1 2\n", "line 2: 2 values after the word 'bad' where 3 were expected"),
    "a ragged line after a header": ("2 3\ngood 1 2 3\nbad 1 2 3 4\n", "line 3: 4 values after the word 'bad'"),
    "a word and no numbers": ("good\n", "line 1: a vector needs 1 to 65,536 numbers after the word (found 0)"),
    "a non-number": ("good 1 2 3\nbad 1 x2 3\n", "line 2: 'x2' is not a number"),
    "a non-number in an unused line": ("zzz 1 2 3\nwords , . ;\n", "line 2: ',' is not a number"),
    "nan": ("good 1 nan 3\n", "line 1: holds a value that is not finite"),
    "a number too large for float32": ("good 1 1e39 3\n", "line 1: holds a value that is not finite"),
    "not UTF-8": (b"good 1 2 3\n\xff\xfe 1 2 3\n", "line 2: not UTF-8 text"),
    "a header larger than the file": ("3 3\ngood 1 2 3\n", "the header announces 3 words but the file holds 1"),
    "a header out of bounds": ("5 100000\n", "line 1: header '5 100000' is out of bounds"),
    "nothing": ("", "holds no vectors"),
    "another dimension": ("good 1 2 3 4\n", "holds 4-dimensional vectors but model.embedding.dim is 3; set "
                          "model.embedding.dim=4"),
}


@pytest.mark.parametrize("case", list(BAD_TEXT))
def test_a_bad_text_file_is_a_data_error_with_its_line(case, tmp_path):
    content, expected = BAD_TEXT[case]
    path = tmp_path / "v.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as error:
        read_vectors(path, {"good": 2, "bad": 3}, 3)
    assert str(error.value).startswith(f"{path}") and expected in str(error.value), str(error.value)


def test_bad_binary_files_name_the_entry(tmp_path):
    truncated = binary_file(tmp_path / "t.bin")
    truncated.write_bytes(truncated.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"entry 3 \('unseen'\) ends after 6 of its 12 bytes; the file is truncated"):
        read_vectors(truncated, {"good": 2}, 3)
    with pytest.raises(DataError, match="the header announces 5 words but the file holds 3"):
        read_vectors(binary_file(tmp_path / "s.bin", announced=5), {"good": 2}, 3)
    infinite = binary_file(tmp_path / "i.bin", vectors={"good": [1.0, float("inf"), 0.0]})
    with pytest.raises(DataError, match=r"entry 1 \('good'\) holds a value that is not finite"):
        read_vectors(infinite, {"good": 2}, 3)
    endless = tmp_path / "w.bin"
    endless.write_bytes(b"1 3\n" + b"\x00" + b"a" * 20_000)
    with pytest.raises(DataError, match="entry 1: a word longer than 10,000 bytes"):
        read_vectors(endless, {"good": 2}, 3)


def test_a_line_beyond_the_bound_is_refused_before_it_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.vectors.MAX_LINE_BYTES", 64)
    path = tmp_path / "v.txt"
    path.write_text("good 1 2 3\nbad " + "1.0 " * 40 + "\n")
    with pytest.raises(DataError, match="line 2 is longer than 64 bytes"):
        read_vectors(path, {"good": 2}, 3)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=f"model.embedding.vectors: no file {tmp_path / 'nope.txt'}"):
        read_vectors(tmp_path / "nope.txt", {}, 3)


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gzip_file_is_a_data_error_naming_it(tmp_path, damage):
    """A cut-off download of glove.txt.gz, or flipped bytes: one message, not gzip's traceback."""
    data = bytearray(text_file(tmp_path / "glove.txt.gz").read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[-8:-4] = bytes(b ^ 0xFF for b in data[-8:-4])  # its CRC
    (tmp_path / "glove.txt.gz").write_bytes(bytes(data))
    with pytest.raises(DataError, match="glove.txt.gz: the gzip data is damaged or truncated"):
        read_vectors(tmp_path / "glove.txt.gz", {}, 3)


def test_files_written_by_gensim_load(tmp_path):
    gensim = pytest.importorskip("gensim")
    keyed = gensim.models.KeyedVectors(3)
    keyed.add_vectors(list(VECTORS), np.array(list(VECTORS.values()), dtype=np.float32))
    for binary in (False, True):
        path = tmp_path / f"gensim-{binary}.w2v"
        keyed.save_word2vec_format(str(path), binary=binary)
        found, coverage = read_vectors(path, {"good": 2, "film": 4, "bad": 3}, 3)
        assert found[2].tolist() == VECTORS["good"] and found[4].tolist() == VECTORS["film"]
        assert (coverage.found, coverage.format) == (2, "word2vec binary" if binary else "text")


def metrics(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if "seconds" not in k and k != "train_tokens_per_second"} for r in records]


def test_training_with_vectors_reports_coverage_and_leaves_everything_else_as_it_was(tmp_path, capsys):
    # The made-up reviews' label words, as vectors of the right size; one word no review has.
    words = POSITIVE_WORDS[:3] + NEGATIVE_WORDS[:2]
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} {' '.join(['0.5'] * 4)}\n" for w in words) + "nowhere 1 1 1 1\n")
    tiny = {"model": {"embedding": {"dim": 4}, "encoder": {"type": "lstm", "hidden_size": 4}, "head": "linear"},
            "train": {"threads": 1}}
    plain = smoke_train(tiny, tmp_path, epochs=2, out=tmp_path / "plain")
    frozen = smoke_train(tiny, tmp_path, [f"model.embedding.vectors={path}", "model.embedding.freeze=true"],
                         epochs=2, out=tmp_path / "frozen")
    vocab = Vocab.load(tmp_path / "frozen" / "vocab.json")
    coverage = frozen["vectors"]
    assert (coverage["found"], coverage["file_words"], coverage["vocabulary"]) == (5, 6, len(vocab) - 2)
    assert coverage["tokens_found"] == sum(vocab.counts[vocab[w]] for w in words)
    assert f"5 of {len(vocab) - 2} vocabulary words found" in capsys.readouterr().err
    assert plain["vectors"] is None
    frozen_run = RunDir(tmp_path / "frozen")
    weights = frozen_run.load_checkpoint(frozen_run.best).model["embedding.weight"]
    assert all(weights[vocab[w]].tolist() == [0.5] * 4 for w in words)  # frozen: still the file's vectors
    assert frozen["parameters"] == plain["parameters"] - len(vocab) * 4  # the embedding is not trained

    # vectors that match no word change nothing: they are read after the seeded initialisation
    unused = tmp_path / "unused.txt"
    unused.write_text("nowhere 1 1 1 1\n")
    none = smoke_train(tiny, tmp_path, [f"model.embedding.vectors={unused}"], epochs=2, out=tmp_path / "none")
    assert none["vectors"]["found"] == 0 and metrics(tmp_path / "none") == metrics(tmp_path / "plain")
