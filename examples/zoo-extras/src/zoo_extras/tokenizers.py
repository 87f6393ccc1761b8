"""The ``char-ngrams`` tokenizer: a picklable callable ``str -> list[str]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class CharNgrams:
    """Each lowercased word's character n-grams (``n_min`` to ``n_max``), in text order.

    With ``boundaries`` a word ``film`` is read as ``<film>``, so ``<fi`` (a prefix) and ``lm>``
    (a suffix) are tokens of their own; with ``words`` the whole ``<film>`` is a token too. A word
    shorter than ``n_min`` (boundaries included) gives itself as its only n-gram.
    """

    n_min: int = 3
    n_max: int = 5
    boundaries: bool = True
    words: bool = True
    strip_html: bool = True

    def __call__(self, text: str) -> list[str]:
        if self.strip_html:
            text = _TAG.sub(" ", text)
        tokens: list[str] = []
        for word in _WORD.findall(text.lower()):
            unit = f"<{word}>" if self.boundaries else word
            if self.words:
                tokens.append(unit)
            if len(unit) < self.n_min:
                if not self.words:
                    tokens.append(unit)
                continue
            for n in range(self.n_min, min(self.n_max, len(unit)) + 1):
                tokens.extend(unit[i : i + n] for i in range(len(unit) - n + 1) if not (self.words and n == len(unit)))
        return tokens


def build_char_ngrams(config) -> CharNgrams:
    """Character n-grams of each word (fastText style)."""
    return CharNgrams(
        n_min=config.n_min, n_max=config.n_max, boundaries=config.boundaries,
        words=config.words, strip_html=config.strip_html,
    )
