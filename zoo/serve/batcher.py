"""Dynamic batching: concurrent requests scored together, in one inference thread.

Why: scoring 16 reviews together costs little more than scoring one (the recurrent layers step
through time once for all of them), so a server that scores each request alone wastes most of
the CPU under concurrency. Requests are queued with a future each; one thread, off the event
loop, takes them in arrival order, tokenizes and scores a batch's texts together (the scorer
sorts them by length, see :mod:`zoo.serve.service`) and hands each caller the logits of
exactly its own texts, in order.

A batch closes when it holds ``max_batch`` texts, or ``max_wait_ms`` after its first request
arrived, or as soon as no other request is on its way: a request counts as on its way from the
moment its handler starts reading its body (:meth:`Batcher.arriving`). Waiting for requests
that nobody is sending would only add latency; while the model is busy, the next batch gathers
by itself.

The queue is bounded (``max_queue`` texts waiting): beyond it a submission is refused at
once, so overload is shed instead of growing everyone's latency. A batch whose scoring raises
is scored again request by request, so only the request that fails gets the error.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo.serve.limits import Limits

#: ``score(texts) -> logits``: one row (or value) of logits per text, in the given order.
Scorer = Callable[[list[str]], np.ndarray]
#: ``observe(texts, seconds)``: called after each batch is scored (metrics).
Observer = Callable[[int, float], Any]


class QueueFull(Exception):
    """The request would overfill the queue, or the batcher is closing; answer 503."""


@dataclass
class _Job:
    texts: list[str]
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)


class Arrival:
    """A request announced to the batcher (see :meth:`Batcher.arriving`); a plain class rather
    than a generator-based context manager, because it is entered for every request."""

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self._pending = True

    def __enter__(self) -> Arrival:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._pending:  # never submitted (a bad request): no longer on its way either
            self._pending = False
            self._batcher._arrived()

    def submit(self, texts: list[str]) -> Future:
        """Queue the texts: a future of their logits (or of the exception scoring them raised).
        Raises :class:`QueueFull` when the queue cannot take them."""
        self._pending = False
        return self._batcher._submit(texts)


class Batcher:
    """The inference thread and its bounded queue; :meth:`close` answers what is queued, then stops."""

    def __init__(self, score: Scorer, limits: Limits, observe: Observer | None = None,
                 on_queue_change: Callable[[int], Any] | None = None) -> None:
        self._score = score
        self._limits = limits
        self._observe = observe
        self._on_queue_change = on_queue_change
        self._jobs: deque[_Job] = deque()
        self._waiting = 0  # texts in _jobs
        self._arriving = 0  # requests announced by arriving() and not yet submitted
        self._scoring = 0  # texts of the batch being scored
        self._condition = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="zoo-serve-batcher", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the inference thread is running."""
        return self._thread.is_alive()

    @property
    def waiting(self) -> int:
        """Texts queued and not yet taken into a batch."""
        return self._waiting

    def has_room(self) -> bool:
        """Whether a one-text request would be accepted now."""
        return not self._closing and self._waiting < self._limits.max_queue

    @property
    def scoring(self) -> int:
        """Texts of the batch being scored now."""
        return self._scoring

    def arriving(self) -> Arrival:
        """A request on its way: while its body is read and checked, batches wait for it (up to
        ``max_wait_ms``). Use it as a context manager; its ``submit(texts)`` queues the texts."""
        with self._condition:
            self._arriving += 1
        return Arrival(self)

    def _arrived(self) -> None:
        with self._condition:
            self._arriving -= 1
            self._condition.notify()

    def _submit(self, texts: list[str]) -> Future:
        """Queue an announced request's texts (no longer on its way, whether queued or refused)."""
        job = _Job(texts)
        with self._condition:
            self._arriving -= 1
            self._condition.notify()
            if self._closing:
                raise QueueFull("the server is shutting down")
            if self._waiting and self._waiting + len(texts) > self._limits.max_queue:
                raise QueueFull(
                    f"the server is busy: {self._waiting} texts are waiting to be scored and it queues at most "
                    f"{self._limits.max_queue} (max_queue); retry shortly"
                )
            self._jobs.append(job)
            self._queued(len(texts))
            self._condition.notify()
        return job.future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new requests, score every queued one, and stop the thread."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join(timeout)

    # -- the inference thread -------------------------------------------------------------------

    def _queued(self, texts: int) -> None:
        self._waiting += texts
        if self._on_queue_change is not None:
            self._on_queue_change(self._waiting)

    def _next_batch(self) -> list[_Job] | None:
        """Wait for the next batch (see the module docstring for when it closes)."""
        limits = self._limits
        with self._condition:
            while not self._jobs:
                if self._closing:
                    return None
                self._condition.wait()
            deadline = self._jobs[0].arrived + limits.max_wait_ms / 1000
            while self._waiting < limits.max_batch and self._arriving and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            batch: list[_Job] = []
            texts = 0
            while self._jobs and (not batch or texts + len(self._jobs[0].texts) <= limits.max_batch):
                job = self._jobs.popleft()
                batch.append(job)
                texts += len(job.texts)
            self._queued(-texts)
            return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            # a caller that went away (its future cancelled) is not scored
            jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
            self._scoring = sum(len(job.texts) for job in jobs)
            self._run(jobs)
            self._scoring = 0

    def _run(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        start = time.perf_counter()
        try:
            logits = self._score([text for job in jobs for text in job.texts])
        except Exception as exc:  # noqa: BLE001 - a model failure is answered, never kills the thread
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
            else:  # find the request that fails; the others still get their answers
                for job in jobs:
                    self._run([job])
            return
        texts = 0
        for job in jobs:
            job.future.set_result(logits[texts : texts + len(job.texts)])
            texts += len(job.texts)
        if self._observe is not None:
            self._observe(texts, time.perf_counter() - start)
