"""Pretrained word vectors (``model.embedding.vectors``) copied into a model's embedding.

Formats, recognised by their content rather than their name:

- **text** (word2vec ``.txt``, GloVe, fastText ``.vec``): one ``word v1 ... vD`` per line,
  separated by whitespace, with an optional ``N D`` header line (word2vec and fastText write
  one, GloVe does not);
- **word2vec binary**: an ``N D`` header line, then per word its UTF-8 bytes, a space and D
  little-endian float32 values (an optional newline between entries);
- either one gzip-compressed (``.gz``).

A vectors file is data a user may have received from anyone: it is parsed, never unpickled,
and every size is bounded (dimension, header count, line and word lengths), so a malformed
file is a :class:`~zoo.errors.DataError` naming its line (or entry), never a crash or a
runaway allocation. Only the vectors of vocabulary words are kept, so memory follows the
vocabulary, not the file. Vectors are read after the model is initialised from the spec's seed
and consume no random numbers, so a spec without vectors computes exactly what it did before.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from zoo.errors import DataError

#: Bounds that turn a corrupt or hostile file into an error instead of an exhausted machine.
MAX_DIM = 65_536  # the spec's own bound on model.embedding.dim
MAX_WORDS = 100_000_000
MAX_WORD_BYTES = 10_000
MAX_LINE_BYTES = 64 * MAX_DIM  # room for MAX_DIM numbers written at full float precision
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Coverage:
    """How much of a vocabulary a vectors file covers (reported in the log and ``summary.json``)."""

    file: str
    format: str
    dim: int
    file_words: int
    vocabulary: int  # words of the vocabulary, the two specials (<pad>, <unk>) not counted
    found: int
    tokens: int | None = None  # training tokens of vocabulary words (None: counts unknown)
    tokens_found: int | None = None

    @property
    def rate(self) -> float:
        return self.found / self.vocabulary if self.vocabulary else 0.0

    @property
    def token_rate(self) -> float | None:
        return self.tokens_found / self.tokens if self.tokens else None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "dim": self.dim, "file_words": self.file_words,
                "vocabulary": self.vocabulary, "found": self.found, "coverage": self.rate,
                "tokens": self.tokens, "tokens_found": self.tokens_found, "token_coverage": self.token_rate}

    def describe(self) -> str:
        words = f"{self.file_words:,} word{'s' if self.file_words != 1 else ''}"
        text = (f"vectors {self.file} ({self.format}, {words} of dimension {self.dim}): "
                f"{self.found:,} of {self.vocabulary:,} vocabulary words found ({self.rate:.1%})")
        if self.token_rate is not None:
            text += f", {self.token_rate:.1%} of training tokens"
        if self.found == 0:
            text += "; none at all: were the vectors made with another tokenizer (case, punctuation)?"
        return text


def read_vectors(path: str | Path, words: dict[str, int], dim: int) -> tuple[dict[int, np.ndarray], Coverage]:
    """The vectors of those ``words`` (``{word: id}``) that the file holds, ``{id: vector}``.

    ``dim`` is the embedding's size; a file of another dimension is an error naming both.
    The first vector of a word that appears twice wins.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model.embedding.vectors: no file {path}")
    with _gzip_errors(path):
        with _open(path) as stream:
            header = _header(stream.readline(MAX_LINE_BYTES + 1), path)
            binary = header is not None and _looks_binary(stream.read(4096))
        with _open(path) as stream:
            if header is not None:
                stream.readline(MAX_LINE_BYTES + 1)
            entries = _binary_entries(stream, path, header) if binary else _text_entries(stream, path, header)
            found: dict[int, np.ndarray] = {}
            count = 0
            for count, (word, vector, file_dim) in enumerate(entries, 1):
                if count == 1 and file_dim != dim:
                    raise DataError(f"{path} holds {file_dim}-dimensional vectors but model.embedding.dim is "
                                    f"{dim}; set model.embedding.dim={file_dim} or use vectors of dimension {dim}")
                index = words.get(word)
                if index is not None and index not in found:
                    found[index] = vector
    if header is not None and count != header[0]:
        raise DataError(f"{path}: the header announces {header[0]:,} words but the file holds {count:,}; "
                        "is it truncated?")
    if count == 0:
        raise DataError(f"{path} holds no vectors")
    coverage = Coverage(str(path), "word2vec binary" if binary else "text", dim, count, len(words), len(found))
    return found, coverage


def vectors_dim(path: str | Path) -> int:
    """The dimension of the vectors in ``path``, from its header or first entry alone.

    Cheap whatever the file's size, so that ``zoo sweep`` can check every ``model.embedding.dim``
    it will try against the file before any trial starts.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model.embedding.vectors: no file {path}")
    with _gzip_errors(path), _open(path) as stream:
        header = _header(stream.readline(MAX_LINE_BYTES + 1), path)
        if header is not None:
            return header[1]
    with _gzip_errors(path), _open(path) as stream:
        for _word, _vector, dim in _text_entries(stream, path, None):
            return dim
    raise DataError(f"{path} holds no vectors")


@contextmanager
def _gzip_errors(path: Path) -> Iterator[None]:
    """gzip's errors for a cut-off download or a damaged archive, as one :class:`DataError`."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: the gzip data is damaged or truncated ({exc})") from None


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _header(line: bytes, path: Path) -> tuple[int, int] | None:
    """``(words, dim)`` of an ``N D`` header line, or ``None`` when the first line is a vector."""
    parts = line.split()
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    words, dim = int(parts[0]), int(parts[1])
    if not 1 <= dim <= MAX_DIM or words > MAX_WORDS:
        raise DataError(f"{path}: line 1: header '{line.decode('ascii').strip()}' is out of bounds "
                        f"(at most {MAX_WORDS:,} words of dimension 1 to {MAX_DIM:,})")
    return words, dim


def _looks_binary(chunk: bytes) -> bool:
    """Whether the bytes after a header are word2vec's raw floats rather than UTF-8 text."""
    if b"\x00" in chunk:
        return True
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(chunk) - 4  # a character cut at the chunk's end is still text
    return False


Entry = tuple[str, np.ndarray, int]  # word, vector, the file's dimension


def _text_entries(stream: IO[bytes], path: Path, header: tuple[int, int] | None) -> Iterator[Entry]:
    dim = header[1] if header else None
    number = 1 if header else 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise DataError(f"{path}: line {number} is longer than {MAX_LINE_BYTES:,} bytes")
        try:
            parts = raw.decode("utf-8").split()
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: line {number}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        if not parts:
            continue
        if dim is None:
            dim = len(parts) - 1
            if not 1 <= dim <= MAX_DIM:
                raise DataError(f"{path}: line {number}: a vector needs 1 to {MAX_DIM:,} numbers after the word "
                                f"(found {dim})")
        if len(parts) != dim + 1:
            raise DataError(f"{path}: line {number}: {len(parts) - 1} values after the word {parts[0]!r} where "
                            f"{dim} were expected (a ragged line, or a word containing spaces)")
        # every line is checked, wanted or not: a file with non-numbers is corrupt wherever they are
        yield parts[0], _numbers(parts[1:], path, f"line {number}"), dim


def _numbers(values: list[str], path: Path, where: str) -> np.ndarray:
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
            vector = np.asarray(values, dtype=np.float32)
    except ValueError:
        bad = next(value for value in values if not _is_number(value))
        raise DataError(f"{path}: {where}: {bad[:40]!r} is not a number") from None
    if not np.isfinite(vector).all():
        raise DataError(f"{path}: {where}: holds a value that is not finite (nan or inf, or too large for float32)")
    return vector


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _binary_entries(stream: IO[bytes], path: Path, header: tuple[int, int]) -> Iterator[Entry]:
    count, dim = header
    size = 4 * dim
    for entry in range(1, count + 1):
        word = _binary_word(stream, path, entry)
        if word is None:
            return  # fewer entries than announced: reported by the caller
        data = stream.read(size)
        if len(data) != size:
            raise DataError(f"{path}: entry {entry} ({word!r}) ends after {len(data)} of its {size} bytes; "
                            "the file is truncated")
        vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
        if not np.isfinite(vector).all():
            raise DataError(f"{path}: entry {entry} ({word!r}) holds a value that is not finite")
        yield word, vector, dim
    if stream.read(1).strip():
        raise DataError(f"{path}: more data after the {count:,} entries the header announces")


def _binary_word(stream: IO[bytes], path: Path, entry: int) -> str | None:
    """The next entry's word (the bytes up to a space, leading newlines skipped), ``None`` at the end."""
    word = bytearray()
    while True:
        byte = stream.read(1)
        if not byte:
            if word:
                raise DataError(f"{path}: entry {entry} ends inside its word; the file is truncated")
            return None
        if byte == b" ":
            break
        if byte == b"\n" and not word:
            continue
        word += byte
        if len(word) > MAX_WORD_BYTES:
            raise DataError(f"{path}: entry {entry}: a word longer than {MAX_WORD_BYTES:,} bytes; "
                            "is this a word2vec binary file?")
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: entry {entry}: the word is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def load_pretrained(embedding: Any, vocab: Any, path: str | Path) -> Coverage:
    """Copy the vectors of ``vocab``'s words found in ``path`` into ``embedding`` (an
    ``nn.Embedding``); the other rows keep their initialisation, padding stays zero."""
    import torch

    words = {token: index for index, token in enumerate(vocab.tokens) if token not in vocab.SPECIALS}
    found, coverage = read_vectors(path, words, embedding.embedding_dim)
    if found:
        ids = torch.tensor(sorted(found))
        rows = torch.from_numpy(np.stack([found[i] for i in sorted(found)]))
        with torch.no_grad():
            embedding.weight[ids] = rows.to(embedding.weight.dtype)
    if vocab.counts is not None:
        coverage.tokens = sum(vocab.counts[i] for i in words.values())
        coverage.tokens_found = sum(vocab.counts[i] for i in found)
    return coverage
