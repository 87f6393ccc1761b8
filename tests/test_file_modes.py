"""Everything zoo writes honours the umask, as files written with ``open()`` do.

Atomic writes go through temporary files, which Python creates private (0600, folders 0700); a
run, a checkpoint or a cache entry shared with a colleague, a CI job or a serving account must
get the usual permissions instead (0644 and 0755 under the common umask 022).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TINY = ["--set", "data.dataset.valid_size=8", "--set", "data.dataset.extract=true", "--set", "train.epochs=1",
        "--set", "train.batch_size=8", "--set", "model.embedding.dim=4", "--set", "model.encoder.hidden_size=4",
        "--set", "model.head.hidden_sizes=[4]"]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_runs_checkpoints_downloads_and_cache_entries_honour_the_umask(tmp_path, served, umask):
    url, digest, _ = served
    cache, out = tmp_path / "cache", tmp_path / "run"
    # an archive served over HTTP: downloaded into the cache, extracted there, tokenized there, trained
    command = [sys.executable, "-m", "zoo", "train", "imdb-lstm", *TINY, "--set", f"data.source={url}#sha256={digest}",
               "--out", str(out)]
    env = {"ZOO_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, env=env, capture_output=True, preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr.decode()

    written = [p for root in (cache, out) for p in root.rglob("*")]
    kinds = {p.relative_to(tmp_path).parts[0] + "/" + p.suffix for p in written if p.is_file()}
    assert {"run/.safetensors", "run/.json", "run/.md", "run/.yaml", "run/.png", "cache/.gz", "cache/.txt", "cache/.npz"} <= kinds
    wrong = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in written
             if stat.S_IMODE(p.stat().st_mode) != (0o777 if p.is_dir() else 0o666) & ~umask}
    assert wrong == {}


def test_atomic_writes_keep_the_umask_of_the_moment(tmp_path):
    code = (
        "import os, sys; from zoo.io import atomic_write_text, atomic_directory\n"
        "os.umask(0o077); atomic_write_text(sys.argv[1] + '/private', 'x')\n"
        "os.umask(0o002)\n"
        "with atomic_directory(sys.argv[1] + '/shared') as tmp: (tmp / 'f').write_text('y')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o775
    assert stat.S_IMODE((tmp_path / "shared" / "f").stat().st_mode) == 0o664

