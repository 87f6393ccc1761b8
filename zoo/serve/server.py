"""Running the app under uvicorn for ``zoo serve``: listening, workers, signals, the start-up line.

The run is loaded here first, before anything listens, so that a missing or incomplete run, or
one that needs an uninstalled plugin, ends with zoo's one-line error and exit status 2; the
address is bound here too, so a port in use is the same kind of error. With one worker the
loaded model is handed to the app; with ``--workers N`` uvicorn starts N processes that each
build the app from :func:`app_from_environment` and load the model once in its lifespan.

SIGTERM or Ctrl-C stops accepting connections, answers every request already accepted (the
batcher keeps running until the last connection is done), and then ``zoo serve`` exits 0.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from zoo.errors import ZooError
from zoo.serve.limits import Limits

#: How the parent hands the run and settings to worker processes.
RUN_VARIABLE, LIMITS_VARIABLE, THREADS_VARIABLE = "ZOO_SERVE_RUN", "ZOO_SERVE_LIMITS", "ZOO_SERVE_THREADS"
BACKLOG = 2048


def serve(run: str | Path, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          threads: int | None = None, limits: Limits | None = None, plugin_modules: list[str] | None = None) -> None:
    """Serve ``run`` until SIGTERM or Ctrl-C; returns once every accepted request is answered.

    ``threads``: torch threads per worker (default: torch's own count divided among the
    workers). ``plugin_modules`` (``zoo -p``) are loaded in the worker processes too.
    """
    import torch
    import uvicorn

    from zoo.classifier import load

    limits = limits or Limits()
    threads = threads or max(1, torch.get_num_threads() // workers)
    torch.set_num_threads(threads)  # this process is the server's own: its settings are ours to choose
    classifier = load(run)  # a run that cannot be served fails here, before anything listens
    listener = _listen(host, port)
    _configure_logging()
    # h11, not httptools even where it is installed: h11 bounds what it buffers of a request's
    # headers (a megabyte of them is refused), httptools takes any amount, so one client could
    # fill the memory
    common: dict[str, Any] = {"http": "h11", "log_config": None, "log_level": "warning", "access_log": False,
                              "lifespan": "on"}
    print(_startup_line(listener, run, classifier, threads, workers, limits), file=sys.stderr, flush=True)
    with _signals_end_quietly():
        if workers == 1:
            from zoo.serve.api import create_app

            app = create_app(run, limits, classifier=classifier, threads=threads, on_start=_started)
            uvicorn.Server(uvicorn.Config(app, **common)).run(sockets=[listener])
            return
        del classifier  # each worker loads its own
        with _worker_environment(run, limits, threads, plugin_modules or []):
            from uvicorn.supervisors import Multiprocess

            config = uvicorn.Config(f"{__name__}:app_from_environment", factory=True, workers=workers, **common)
            supervisor = Multiprocess(config, sockets=[listener])  # installs its signal handlers
            # this process's copy of the socket would keep it listening after every worker let go
            # of it, queueing connections that no one will accept
            _before_signal_handlers(listener.close)
            supervisor.run()


def app_from_environment() -> Any:
    """The app of one worker process (uvicorn imports this by name), from the parent's settings."""
    from zoo.memory import own_process
    from zoo.serve.api import create_app

    own_process()  # a worker is the server's own process, as its parent is
    _configure_logging()
    return create_app(os.environ[RUN_VARIABLE], Limits.from_json(os.environ[LIMITS_VARIABLE]),
                      threads=int(os.environ[THREADS_VARIABLE]), on_start=_started)


def _started(service: Any) -> None:
    """Once a worker's model is loaded: mark the service draining when SIGTERM or SIGINT arrives
    (see ``AnswerMiddleware``), and take everything loaded so far out of the garbage
    collector's sight. Those 200,000 objects (torch, FastAPI, the model) live as long as the
    process, and a full collection walking them took about 0.27 s on the 2-core benchmark
    machine, which every request in flight waited for."""
    _before_signal_handlers(lambda: setattr(service, "draining", True))
    gc.freeze()


def _before_signal_handlers(action: Any) -> None:
    """Run ``action`` on SIGTERM or SIGINT, then the handler in place (uvicorn's, which shuts
    the server down gracefully)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)

        def first_action(number: int, frame: Any, handler: Any = handler) -> None:
            action()
            if callable(handler):
                handler(number, frame)

        signal.signal(sig, first_action)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port); a bind failure is a ZooError."""
    try:
        family, kind, protocol = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][:3]
        # the protocol must be named (IPPROTO_TCP, not 0): asyncio turns Nagle's algorithm off
        # only on sockets that say they are TCP, and without that every answer on a kept-alive
        # connection waits some 40 ms for the client's delayed acknowledgement
        listener = socket.socket(family, kind, protocol)
    except OSError as exc:
        raise ZooError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except OSError as exc:
        listener.close()
        raise ZooError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --host or --port")
    listener.set_inheritable(True)
    return listener


def _startup_line(listener: socket.socket, run: str | Path, classifier: Any, threads: int, workers: int,
                  limits: Limits) -> str:
    host, port = listener.getsockname()[:2]
    address = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    per = f", {workers} workers" if workers > 1 else ""
    return (f"zoo serve: {address} serving {run} ({classifier.spec.name}, {classifier.task.name}: "
            f"{', '.join(classifier.labels)}), {threads} torch threads{per}, max batch {limits.max_batch}, "
            f"max wait {limits.max_wait_ms:g} ms; Ctrl-C or SIGTERM stops")


def _configure_logging() -> None:
    """Errors of the server (a failing model, a bug) go to stderr with their traceback."""
    logger = logging.getLogger("zoo.serve")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("zoo serve: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@contextlib.contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """After a graceful shutdown uvicorn raises the signal again for the previous handler; make
    that handler a no-op, so that ``zoo serve`` ends with status 0 rather than dying of it."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _worker_environment(run: str | Path, limits: Limits, threads: int, plugin_modules: list[str]) -> Iterator[None]:
    """The settings for worker processes, and a folder where they pool their metrics."""
    metrics_dir = None
    values = {RUN_VARIABLE: str(run), LIMITS_VARIABLE: limits.to_json(), THREADS_VARIABLE: str(threads)}
    if plugin_modules:
        values["ZOO_PLUGINS"] = ",".join(filter(None, [os.environ.get("ZOO_PLUGINS", ""), *plugin_modules]))
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="zoo-serve-metrics-")
        values["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        with mock.patch.dict(os.environ, values):
            yield
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
