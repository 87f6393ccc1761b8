"""The ``zoo serve`` verb: a trained run as an HTTP prediction service (see :mod:`zoo.serve`)."""

from __future__ import annotations

import argparse

from zoo.serve.limits import Limits


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve the run until SIGTERM or Ctrl-C, then exit 0 once every accepted request is answered."""
    from zoo.serve import require_serve_extra

    require_serve_extra()
    from zoo.serve.server import serve

    limits = Limits(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_texts=args.max_texts,
                    max_chars=args.max_chars, max_body_bytes=args.max_body_bytes, max_queue=args.max_queue)
    serve(args.run, host=args.host, port=args.port, workers=args.workers, threads=args.threads, limits=limits,
          plugin_modules=args.plugins)


def add_serve_verb(verb) -> None:
    """Add ``zoo serve`` to the CLI's parser (no server package is imported here)."""
    sub = verb("serve", cmd_serve, "serve a trained run over HTTP (needs the serve extra)")
    sub.add_argument("run", help="run directory")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    sub.add_argument("--port", type=_count(0, most=65535), default=8000, help="port (default: 8000; 0: any free port)")
    sub.add_argument("--workers", type=_count(1), default=1, metavar="N",
                     help="worker processes, each with its own copy of the model (default: 1)")
    sub.add_argument("--threads", type=_count(1), metavar="N",
                     help="torch threads per worker (default: torch's thread count divided among the workers)")
    limits = Limits()
    for flag, help_text in [
        ("--max-batch", "texts scored together at most"),
        ("--max-wait-ms", "how long a batch waits for more requests after its first one"),
        ("--max-texts", "texts per request (more: 413)"),
        ("--max-chars", "characters per text (more: 413)"),
        ("--max-body-bytes", "bytes per request body (more: 413)"),
        ("--max-queue", "texts waiting for a batch before requests are refused with 503"),
    ]:
        name = flag[2:].replace("-", "_")
        default = getattr(limits, name)
        sub.add_argument(flag, type=_milliseconds if name == "max_wait_ms" else _count(1), default=default,
                         metavar="MS" if name == "max_wait_ms" else "N", help=f"{help_text} (default: {default:,})")


def _count(least: int, most: int | None = None):
    """An argparse type: a whole number of at least ``least`` (and at most ``most``, for a port, which
    the socket would otherwise refuse with a traceback)."""

    def parse(text: str) -> int:
        value = int(text) if text.strip().isdigit() else -1
        if value < least or (most is not None and value > most):
            bound = f"from {least} to {most}" if most is not None else f"of at least {least}"
            raise argparse.ArgumentTypeError(f"must be a whole number {bound}, not {text!r}")
        return value

    return parse


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60_000:
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds from 0 to 60000, not {text!r}")
    return value
