"""Prometheus metrics of one server: requests by endpoint and status, latency, batches, queue.

Each app has its own registry, so several apps in one process (tests, a user's service that
mounts two models) do not collide. With several worker processes (``zoo serve --workers N``)
every worker writes its figures to files in ``PROMETHEUS_MULTIPROC_DIR`` (``zoo serve`` sets
it) and ``/metrics`` sums them over the workers, whichever worker answers the scrape.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServeMetrics:
    """The metrics of one app; :meth:`exposition` renders them for ``GET /metrics``."""

    def __init__(self, max_batch: int) -> None:
        self.registry = CollectorRegistry()
        if _multiprocess():
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
            home = None  # values live in the shared files; the collector reads them all
        else:
            home = self.registry
        self.requests = Counter("zoo_requests", "HTTP requests answered, by endpoint and status code",
                                ["endpoint", "status"], registry=home)
        self.latency = Histogram("zoo_request_seconds", "Time from a request's arrival to its answer, by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=home)
        sizes = sorted({2**k for k in range(max_batch.bit_length())} | {max_batch})
        self.batch_texts = Histogram("zoo_batch_texts", "Texts per scored batch", buckets=sizes, registry=home)
        self.batch_seconds = Histogram("zoo_batch_seconds", "Time to score one batch", buckets=LATENCY_BUCKETS,
                                       registry=home)
        self.texts = Counter("zoo_texts", "Texts scored", registry=home)
        self.queue = Gauge("zoo_queue_texts", "Texts waiting for a batch", registry=home,
                           multiprocess_mode="livesum")

    def observe_batch(self, texts: int, seconds: float) -> None:
        self.batch_texts.observe(texts)
        self.batch_seconds.observe(seconds)
        self.texts.inc(texts)

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def worker_stopped(self) -> None:
        """Drop this process's live gauges from the shared files (several workers only)."""
        if _multiprocess():
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
