"""The server's settings: batching and the limits that keep one client from sinking it.

Every limit exists so that no request, however large or malformed, can make the server run out
of memory or make everyone else wait without bound; each is answered with a JSON error naming
the limit and its value (see :mod:`zoo.serve.api`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from zoo.errors import ZooError
from zoo.limits import MAX_TEXT_CHARS


@dataclass(frozen=True)
class Limits:
    """How ``zoo serve`` batches and what it accepts.

    - ``max_batch``: texts scored together at most; a batch closes when it has this many...
    - ``max_wait_ms``: ...or this long after its first request arrived, whichever comes first.
    - ``max_texts``: texts in one request (more: 413).
    - ``max_chars``: characters in one text (more: 413).
    - ``max_body_bytes``: bytes in one request body, refused before it is read in full (413).
    - ``max_queue``: texts waiting for a batch; a request that would go beyond is refused at
      once with 503 and ``Retry-After`` (load shedding), so that an accepted request waits at
      most about two batches' time. A request arriving at an empty queue is always accepted,
      whatever its size.
    - ``body_timeout_s``: seconds a client may take to send its body (more: 408), so a slow
      client cannot hold a request open forever.
    """

    max_batch: int = 64
    max_wait_ms: float = 5.0
    max_texts: int = 256
    max_chars: int = MAX_TEXT_CHARS  # as zoo predict's --max-chars
    max_body_bytes: int = 8 * 2**20
    max_queue: int = 64
    body_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            least = 0 if field.name == "max_wait_ms" else 1
            kind = int if field.type == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind) or not value >= least:
                noun = "a whole number" if kind is int else "a number"
                raise ZooError(f"serve setting {field.name} must be {noun} of at least {least}, not {value!r}")

    def to_json(self) -> str:
        """The settings as JSON, to hand them to worker processes (see :meth:`from_json`)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Limits:
        return cls(**json.loads(text))
