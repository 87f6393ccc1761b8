"""The built-in tokenizers keep their output, and prediction's one-pass encoding gives the ids of
tokenizing then looking each token up, in-process or in worker processes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from _zoo_builtins.tokenizers import WordsTokenizer
from conftest import REAL_IMDB_SOURCE
from zoo.data.encode import encode_texts, tokenize_table, vocab_mapping
from zoo.data.vocab import Vocab

_TAG = re.compile(r"<[^>]*>")
_NON_WORD = re.compile(r"\W+")
_EMOTICON = re.compile(r"[:;=]-?[()dp]")


def reference_words(text: str) -> list[str]:
    """The words tokenizer as it was first written (substitute non-word runs, then split)."""
    lowered = _TAG.sub(" ", text).lower()
    tokens = _NON_WORD.sub(" ", lowered).split()
    tokens.extend(found.replace("-", "") for found in _EMOTICON.findall(lowered))
    return tokens


TRICKY = [
    "", "   ", "<br /><br />", "A fine film :-) ;( =D", "end<br />Next", "snake_case and __dunder__",
    "déjà vu, naïve café; Straße ΣΑΣ σς", "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeeds",
    "separators\x1c\x1d\x1e\x1fbetween", "digits 1,000.5 and ½ ² ٣", "emoji 🎬🍿 and zero\u200bwidth",
    "unclosed <tag never ends", "über-cool 'quotes' \"double\" (paren) [brackets]", "İstanbul ǅ ﬁ",
]


def test_the_words_tokenizer_gives_what_it_always_gave():
    words = WordsTokenizer()
    for text in TRICKY:
        assert words(text) == reference_words(text), text


@pytest.mark.skipif(not REAL_IMDB_SOURCE, reason="set ZOO_IMDB_SOURCE to the real aclImdb_v1.tar.gz")
def test_the_words_tokenizer_gives_what_it_always_gave_on_every_real_review(tmp_path):
    from _zoo_builtins.imdb import ImdbConfig
    from _zoo_builtins.imdb_reader import ImdbDataset

    raw = ImdbDataset(ImdbConfig()).load(REAL_IMDB_SOURCE, tmp_path / "cache", seed=1)
    words = WordsTokenizer()
    texts = [text for name in ("train", "valid", "test") for text in raw[name].texts]
    assert len(texts) == 50_000
    assert [words(text) for text in texts] == [reference_words(text) for text in texts]


@pytest.mark.parametrize("workers", [1, 2])
def test_encoding_for_prediction_gives_the_ids_of_each_token_looked_up(workers):
    vocab = Vocab.build([["good", "film", "bad"], ["good", "plot"]])
    texts = [f"good w{i % 11} film {'bad ' * (i % 4)}" if i % 5 else "" for i in range(1500)]  # 3 chunks
    split = encode_texts(texts, str.split, vocab, workers=workers)
    table = tokenize_table(texts, str.split, workers=1)
    assert np.array_equal(split.ids, vocab_mapping(table.tokens, vocab)[table.ids])
    assert np.array_equal(split.offsets, table.offsets)
    assert split[1].tolist() == [vocab["good"], Vocab.UNK, vocab["film"], vocab["bad"]]
    assert len(split[0]) == 0 and split.ids.dtype == np.int32
