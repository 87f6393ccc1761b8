"""The vocabulary: token strings to ids, built from the training split only.

Ids: ``<pad>`` = 0, ``<unk>`` = 1, then the kept words by descending training count, ties broken
by the token string (code-point order), so the same data always gives the same ids. ``min_freq``
drops words seen fewer times; ``max_size`` keeps the ``max_size`` most frequent words (the two
specials come on top, so ``len(vocab) == max_size + 2`` at most). Any other token, including a
literal ``"<pad>"`` in the text, encodes as ``<unk>``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from zoo.errors import DataError
from zoo.io import atomic_write_text

FORMAT = "zoo-vocab"
VERSION = 1


class Vocab:
    """An immutable token list with its index; see the module docstring for the id order."""

    PAD = 0
    UNK = 1
    PAD_TOKEN = "<pad>"
    UNK_TOKEN = "<unk>"
    SPECIALS = (PAD_TOKEN, UNK_TOKEN)

    def __init__(self, tokens: Iterable[str], counts: Iterable[int] | None = None) -> None:
        tokens = list(tokens)
        counts = list(counts) if counts is not None else None
        if tuple(tokens[:2]) != self.SPECIALS:
            if counts is not None and len(counts) == len(tokens):
                counts = [0, 0, *counts]
            tokens = [*self.SPECIALS, *tokens]
        if counts is not None and len(counts) != len(tokens):
            raise ValueError(f"{len(tokens)} tokens but {len(counts)} counts")
        self.tokens: list[str] = tokens
        self.counts: list[int] | None = counts
        index = {token: i for i, token in enumerate(tokens)}
        del index[self.PAD_TOKEN]  # text never encodes as padding
        if len(index) != len(tokens) - 1:
            raise ValueError("vocabulary tokens must be unique")
        self._index = index

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls, token_lists: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Count the tokens of ``token_lists`` and keep the frequent ones."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        return cls.from_counts(counter, min_freq=min_freq, max_size=max_size)

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """A vocabulary from ``{token: training count}``."""
        if min_freq < 1:
            raise ValueError("min_freq must be at least 1")
        kept = [
            (token, count)
            for token, count in counts.items()
            if count >= min_freq and token not in cls.SPECIALS
        ]
        # Two stable sorts: by token, then by descending count (``reverse`` keeps stability).
        kept.sort(key=itemgetter(0))
        kept.sort(key=itemgetter(1), reverse=True)
        if max_size is not None:
            kept = kept[:max_size]
        return cls([t for t, _ in kept], [c for _, c in kept])

    # -- use --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (``<unk>``'s id for an unknown one)."""
        return self._index.get(token, self.UNK)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens)"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """The ids of ``tokens``; unknown ones map to ``<unk>`` (1)."""
        return list(map(self._index.get, tokens, repeat(self.UNK)))  # the lookups in C

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids``."""
        return [self.tokens[i] for i in ids]

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "tokens": self.tokens}
        if self.counts is not None:
            data["counts"] = self.counts
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocab:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError("not a zoo vocabulary")
        if data.get("version") != VERSION:
            raise ValueError(f"unsupported vocabulary version {data.get('version')!r}")
        return cls(data["tokens"], data.get("counts"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as JSON, atomically."""
        return atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"vocabulary file {path} does not exist") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path} is not a readable zoo vocabulary: {exc}") from None
