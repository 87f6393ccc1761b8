"""A real ``zoo serve`` process on a free loopback port, for the serving tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

#: Every wait in the serving tests is bounded by this (seconds).
TIME_LIMIT = 120


class Server:
    """``python -m zoo serve RUN --port 0 ARGS...``; the address is read from its start-up line.

    ``stop()`` sends SIGTERM and returns the exit status; leaving the ``with`` block kills
    whatever is still running.
    """

    def __init__(self, run: Path, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
        full_env.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zoo", "serve", str(run), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
        )
        self.lines: list[str] = []
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._started.wait(TIME_LIMIT)
        found = [re.search(r"zoo serve: (http://\S+) ", line) for line in self.lines]
        if not any(found):
            self.kill()
            raise AssertionError(f"the server did not start: {self.stderr}")
        self.url = next(m for m in found if m).group(1)

    def _read(self) -> None:
        for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace"))
            if raw.startswith(b"zoo serve: http://"):
                self._started.set()
        self._started.set()  # the process ended

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def client(self, **options) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=TIME_LIMIT, **options)

    def wait_until(self, predicate, what: str) -> None:
        """Poll ``predicate(client)`` until true (the server answers as soon as uvicorn runs)."""
        deadline = time.monotonic() + TIME_LIMIT
        with self.client() as client:
            while time.monotonic() < deadline:
                try:
                    if predicate(client):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; server stderr: {self.stderr}")

    def send(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        returncode = self.process.wait(TIME_LIMIT)
        self._reader.join(TIME_LIMIT)
        return returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIME_LIMIT)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info) -> None:
        self.kill()
