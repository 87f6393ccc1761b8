"""Serving a trained run over HTTP: ``zoo serve RUN``, or ``zoo.serve.app(RUN)`` from Python.

The app (FastAPI) answers ``POST /predict`` and ``GET /health``, ``/ready``, ``/info``,
``/metrics``, ``/docs`` and ``/`` (a page for people). Concurrent requests are tokenized in
parallel and scored together by one inference thread (:mod:`zoo.serve.batcher`); limits on
texts, characters, body size and the queue (:mod:`zoo.serve.limits`) keep any client from
sinking the server. The modules: ``api`` (endpoints, errors), ``service`` (the loaded model),
``batcher``, ``limits``, ``schemas``, ``metrics`` (Prometheus), ``page`` and ``server`` (uvicorn,
for ``zoo serve``).

FastAPI, uvicorn and prometheus-client come with the ``serve`` extra; this package imports
none of them until used, so that ``import zoo.serve`` and the CLI stay cheap.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from zoo import install_hint
from zoo.errors import ZooError

#: The command that installs what serving needs.
INSTALL_HINT = install_hint("serve")
#: Import names of the ``serve`` extra's packages.
REQUIRED = ("fastapi", "uvicorn", "prometheus_client")


def require_serve_extra() -> None:
    """Say which of the serve extra's packages are missing, and how to install them."""
    missing = []
    for name in REQUIRED:
        try:
            import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ZooError(f"serving needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                       f"installed; install the serve extra: {INSTALL_HINT}")


def app(run: str | Path, *, threads: int | None = None, **limits: Any) -> Any:
    """The ASGI app (FastAPI) serving the run directory ``run``, to run or mount yourself.

    ``limits`` are the fields of :class:`zoo.serve.limits.Limits` (``max_batch``,
    ``max_wait_ms``, ``max_texts``, ``max_chars``, ``max_body_bytes``, ``max_queue``,
    ``body_timeout_s``). The model is loaded by the app's lifespan, so the server running it
    must run lifespans (uvicorn does; a parent FastAPI app must enter the lifespan of an app it
    mounts: see README.md). ``threads`` sets torch's thread count, for the whole process, and
    only when given; otherwise the app changes nothing process-wide beyond what any
    :func:`zoo.load` prediction does (:mod:`zoo.memory`).
    """
    require_serve_extra()
    from dataclasses import fields

    from zoo.serve.api import create_app
    from zoo.serve.limits import Limits

    known = [field.name for field in fields(Limits)]
    unknown = sorted(set(limits) - set(known))
    if unknown:
        raise ZooError(f"unknown serve option(s) {', '.join(unknown)}; the options are threads, {', '.join(known)}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        # checked here: torch would refuse it only in the lifespan, as a RuntimeError at start-up
        raise ZooError(f"serve setting threads must be a whole number of at least 1, not {threads!r}")
    return create_app(run, Limits(**limits), threads=threads)
