"""SIGTERM as an exception, so that a stopped zoo command unwinds like one stopped with Ctrl-C.

Python's default for SIGTERM ends the process on the spot, leaving the temporary file of a
write in progress (``.scored.csv.x1y2.tmp`` beside ``zoo predict --output``) behind. Raised as
:class:`Terminated`, it unwinds: :mod:`zoo.io` removes the temporary file, a training says how
to resume, a sweep marks its trial for a retry.

An exception raised by a signal handler lands wherever the main thread happens to be. While a
process forks (a tokenizer pool starting its workers), that is one of Python's at-fork hooks,
which swallow exceptions: the signal would be lost and the command would run to its end. Such
sections run inside :func:`held`, which keeps the exception back until the section is over.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_held = 0  # depth of the sections in which a raised Terminated would be lost
_pending = False  # a SIGTERM arrived in such a section


class Terminated(KeyboardInterrupt):
    """A SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt."""


def on_sigterm(owner: int) -> Callable[[int, Any], None]:
    """The SIGTERM handler of the process ``owner``; a child forked from it (a pool worker,
    which its pool stops with SIGTERM) dies of the signal as it would have without zoo."""

    def terminate(signum: int, frame: Any) -> None:
        global _pending
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if _held:
            _pending = True
            return
        raise Terminated()

    return terminate


@contextmanager
def held() -> Iterator[None]:
    """Keep a SIGTERM's exception back until the block is over, then raise it there."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held and _pending:
            _pending = False
            raise Terminated()
