"""Texts from a stream, one per line, in bounded memory whatever the stream holds.

``zoo predict RUN -`` reads stdin with this: a line is read up to the bytes ``max_chars``
characters can take in UTF-8, the rest of an over-long line is skipped in fixed-size pieces, and
texts are handed on in batches of bounded count and size. A 500 MB line therefore costs a few
megabytes, not gigabytes, and answers flow while the input is still being read.
"""

from __future__ import annotations

import codecs
import select
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from zoo.limits import MAX_TEXT_CHARS, STDIN_BATCH_CHARS, STDIN_BATCH_TEXTS

#: Bytes read at a time while skipping the rest of an over-long line.
SKIP_CHUNK = 1 << 20

#: ``(text, error)``: a text to predict, or ``None`` and why the line has none.
Item = tuple[str | None, str | None]


def read_lines(stream: BinaryIO, max_chars: int = MAX_TEXT_CHARS,
               warn: Callable[[str], None] | None = None) -> Iterator[Item]:
    """One item per line of ``stream`` (``\\n`` or ``\\r\\n`` line ends).

    A line longer than ``max_chars`` characters is cut to its first ``max_chars``, and ``warn``
    is told so with the line's number; a line that is not UTF-8 gets an error instead of a text.
    """
    limit = 4 * max_chars  # a character takes at most 4 bytes in UTF-8
    number = 0
    while raw := stream.readline(limit + 1):
        number += 1
        cut = len(raw) > limit and not raw.endswith(b"\n")
        if cut:
            while (rest := stream.readline(SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        try:
            # final=False drops a character the cut split in two
            text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=not cut)
        except UnicodeDecodeError as exc:
            yield None, f"line {number}: not UTF-8 ({exc.reason} at byte {exc.start})"
            continue
        if cut or len(text) > max_chars:
            if warn is not None:
                warn(f"line {number} is longer than {max_chars:,} characters (--max-chars); only its first "
                     f"{max_chars:,} are used")
            text = text[:max_chars]
        yield text, None


def batches(items: Iterable[Item], size: int = STDIN_BATCH_TEXTS,
            max_chars: int = STDIN_BATCH_CHARS, waiting: Callable[[], bool] | None = None) -> Iterator[list[Item]]:
    """``items`` in lists of at most ``size`` items, closed once they hold ``max_chars`` characters,
    or as soon as ``waiting()`` says the next item is not there yet: a slow producer's lines
    (``tail -f log | zoo predict RUN -``) are answered as they come, not once 8,192 have."""
    batch: list[Item] = []
    chars = 0
    for item in items:
        batch.append(item)
        chars += len(item[0] or "")
        if len(batch) >= size or chars >= max_chars or (waiting is not None and waiting()):
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def nothing_to_read(stream: BinaryIO) -> bool:
    """Whether reading ``stream`` now would wait: its descriptor has no data (nor end of file)
    ready. Bytes already in the stream's buffer are not seen, so the answer may be a needless yes
    (a smaller batch), never a wait for a batch to fill."""
    try:
        ready, _, _ = select.select([stream], [], [], 0)
    except (OSError, TypeError, ValueError):  # no stream or descriptor, or one select cannot watch
        return False
    return not ready
