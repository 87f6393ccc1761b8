"""Shared fixtures. Data tests: made-up IMDB-shaped reviews as folders and archives, a private cache."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import signal
import tarfile
import threading
from pathlib import Path

import pytest

from plugin_packages import FOREIGN_PLUGINS

#: The real aclImdb archive, when the environment names one; only the tests that mean to read it
#: use it. The rest of the suite does not see it: a command that falls back on ZOO_IMDB_SOURCE (an
#: export's self-check, ``zoo evaluate``) read the 50,000 real reviews where a test meant its own
#: few (7 s for each export test).
REAL_IMDB_SOURCE = os.environ.pop("ZOO_IMDB_SOURCE", None)

# Isolate the suite from the zoo plugins installed where it runs (see plugin_packages).
os.environ["ZOO_DISABLE_PLUGINS"] = ",".join(sorted(FOREIGN_PLUGINS))
for _setting in ("ZOO_PLUGINS", "ZOO_STRICT_PLUGINS"):
    os.environ.pop(_setting, None)

# The commands the tests start get Ctrl-C as a user's terminal gives it. A suite started in the
# background (`cmd &` in a script, nohup) inherits SIGINT ignored, and an ignored signal stays
# ignored through exec: `zoo train` then ran on through a test's SIGINT and exited 0.
signal.signal(signal.SIGINT, signal.default_int_handler)

GROUPS = [(split, label) for split in ("train", "test") for label in ("neg", "pos")]


def made_up_review(split: str, label: str, i: int) -> str:
    """A short invented review: sentiment words by label, a length that varies with ``i``.

    Test reviews also hold the word ``testonly``, which no training review has. Within a folder
    every review is different.
    """
    mood = {"pos": "good great fun", "neg": "bad awful dull"}[label]
    filler = " ".join(f"w{k % 7}" for k in range(i % 9))
    extra = " testonly" if split == "test" else ""
    return f"Review {i}: this film was {mood}.<br /><br />{filler} Shared words here{extra} :)"


class ImdbFiles:
    """Writes IMDB-layout data (``aclImdb/{train,test}/{neg,pos}/<i>_<rating>.txt``)."""

    def reviews(self, n: int = 10) -> dict[str, bytes]:
        """``{relative path: content}`` for ``n`` reviews in each of the four folders."""
        files = {}
        for split, label in GROUPS:
            for i in range(n):
                rating = 8 if label == "pos" else 2
                files[f"{split}/{label}/{i}_{rating}.txt"] = made_up_review(split, label, i).encode()
        return files

    def folder(self, root: Path, files: dict[str, bytes] | None = None, n: int = 10) -> Path:
        """Write ``root/aclImdb/...``; returns ``root/aclImdb``."""
        base = Path(root) / "aclImdb"
        for name, content in (self.reviews(n) if files is None else files).items():
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        base.mkdir(parents=True, exist_ok=True)
        return base

    def archive(
        self,
        path: Path,
        files: dict[str, bytes] | None = None,
        n: int = 10,
        prefix: str = "aclImdb/",
        extra: list[tuple[tarfile.TarInfo, bytes]] | None = None,
    ) -> Path:
        """Write a ``.tar.gz`` holding ``files`` under ``prefix``, then the ``extra`` members."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w:gz") as tf:
            for name, content in (self.reviews(n) if files is None else files).items():
                info = tarfile.TarInfo(prefix + name)
                info.size = len(content)
                tf.addfile(info, io.BytesIO(content))
            for member, data in extra or []:
                tf.addfile(member, io.BytesIO(data) if member.isfile() else None)
        return path

    @staticmethod
    def member(
        name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = ""
    ) -> tuple[tarfile.TarInfo, bytes]:
        """A tar member of any kind (regular file, symlink, hard link, device...) for ``extra``."""
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        info.size = len(data) if info.isfile() else 0
        return info, data


@pytest.fixture
def imdb_files() -> ImdbFiles:
    return ImdbFiles()


@pytest.fixture
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty ``ZOO_CACHE_DIR``; ``ZOO_IMDB_SOURCE`` unset so nothing real is read."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZOO_CACHE_DIR", str(cache))
    monkeypatch.delenv("ZOO_IMDB_SOURCE", raising=False)
    return cache


@pytest.fixture
def data_registry():
    """The registry of every installed plugin (zoo's built-in tokenizers and imdb included)."""
    from zoo.plugins import load_plugins

    return load_plugins().registry


@pytest.fixture
def served(tmp_path, imdb_files):
    """An IMDB-layout archive served over HTTP from 127.0.0.1: ``(url, sha256, requests)``,
    ``requests`` the paths asked for so far (a test can prove nothing was downloaded)."""
    archive = imdb_files.archive(tmp_path / "served" / "aclImdb_v1.tar.gz")
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=archive.parent))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{archive.name}", hashlib.sha256(archive.read_bytes()).hexdigest(), requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished 2-epoch run of a tiny LSTM on made-up data (its spec records the data's
    folder, its token cache is in ``tiny_run.parent / "cache"``). Copy it before changing it."""
    from zoo.testing import smoke_train

    spec = {"name": "tiny", "model": {"embedding": {"dim": 4}, "encoder": {"type": "lstm", "hidden_size": 4},
                                      "head": {"type": "mlp", "hidden_sizes": [4]}}}
    return Path(smoke_train(spec, tmp_path_factory.mktemp("tiny"), epochs=2, per_label=12)["run_dir"])
