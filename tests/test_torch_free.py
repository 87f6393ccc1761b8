"""NETWORK TEST (about a minute): zoo installed as a user would with the ``onnx`` extra only, in a
fresh virtual environment without torch, predicts from an export (folder and pack) what the run
predicts with torch; the light commands work there and the others name the extra they need.

It needs PyPI (pip fetches onnxruntime and the base dependencies), so it runs only when
``ZOO_NETWORK_TESTS=1`` (.ci/run sets it); elsewhere it is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import zoo

pytestmark = [pytest.mark.network,
              pytest.mark.skipif(os.environ.get("ZOO_NETWORK_TESTS") != "1",
                                 reason="installs from PyPI into a fresh venv: set ZOO_NETWORK_TESTS=1 (.ci/run does)")]

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["zapfy glonk", "mudge", ""]

#: A third-party tokenizer whose module needs torch (registered lightly, as plugins are).
TORCHY = {
    "torchy.py": """
        from pydantic import BaseModel, ConfigDict
        from zoo import hookimpl

        class TorchyConfig(BaseModel):
            model_config = ConfigDict(extra="forbid")

        @hookimpl
        def register_components(registry):
            registry.register("tokenizer", "torchy", config=TorchyConfig, factory="torchy_impl:build")
    """,
    "torchy_impl.py": """
        import torch  # what makes it unusable without torch

        def split(text):
            return text.lower().split()

        def build(config):
            return split
    """,
}


def user_venv(root: Path) -> Path:
    """A fresh venv with zoo installed from a clean copy of the project, ``[onnx]`` only."""
    source = root / "zoo-src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", ".cache", "build", "*.egg-info",
                                                                 "__pycache__", "runs", "tests", "benchmarks", "examples"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                              f"{source}[onnx]"], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


def in_venv(venv: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd,
                          env={**clean, "PATH": f"{venv / 'bin'}:{clean.get('PATH', '')}", **(env or {})}, timeout=300)


def test_the_onnx_extra_predicts_from_an_export_without_torch(tiny_run, tmp_path):
    from plugin_packages import run_zoo
    from zoo.export.folder import export
    from zoo.testing import write_imdb_folder

    with mock.patch.dict(os.environ, {"ZOO_CACHE_DIR": str(tmp_path / "cache")}):
        export(tiny_run, tmp_path / "export")
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    for name, code in TORCHY.items():
        (plugin / name).write_text(textwrap.dedent(code))
    (plugin / "spec.yaml").write_text(json.dumps({
        "name": "torchy", "tokenizer": "torchy", "data": {"source": str(write_imdb_folder(tmp_path / "data", 8)),
                                                          "dataset": {"type": "imdb", "valid_size": 4}},
        "model": {"embedding": {"dim": 3}, "encoder": {"type": "gru", "hidden_size": 3}, "head": "linear"},
        "train": {"epochs": 1, "batch_size": 8}}))
    env = {"ZOO_CACHE_DIR": str(tmp_path / "cache")}
    for args in (("train", "spec.yaml", "--out", "run"), ("export", "run", "--out", "export")):
        done = run_zoo("-p", "torchy", *args, cwd=plugin, env=env)
        assert done.returncode == 0, done.stderr.decode()

    venv = user_venv(tmp_path)
    assert in_venv(venv, "python", "-c", "import torch").returncode != 0
    expected = zoo.load(tiny_run).probabilities(TEXTS)

    answered = in_venv(venv, "zoo", "predict", str(tmp_path / "export"), *TEXTS, "--json")
    assert answered.returncode == 0, answered.stderr
    got = [[answer["probabilities"][label] for label in ("neg", "pos")] for answer in json.loads(answered.stdout)]
    assert np.abs(np.array(got) - expected).max() <= 1e-5

    shutil.make_archive(str(tmp_path / "model"), "zip", tmp_path / "export")
    code = ("import json, sys, zoo.runtime; print(json.dumps([m.probabilities(json.loads(sys.argv[1])).tolist() "
            "for m in (zoo.runtime.load(sys.argv[2]), zoo.runtime.load(sys.argv[3]))])); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('torch', 'pandas', 'matplotlib')))")
    runtime = in_venv(venv, "python", "-c", code, json.dumps(TEXTS), str(tmp_path / "export"), str(tmp_path / "model.zip"))
    assert runtime.returncode == 0, runtime.stderr
    folder, packed = json.loads(runtime.stdout.splitlines()[0])
    assert np.abs(np.array(folder) - expected).max() <= 1e-5 and packed == folder
    assert runtime.stdout.splitlines()[1] == "[]"

    for light in (("zoo", "--help"), ("zoo", "list"), ("zoo", "show", "lstm"), ("zoo", "validate", "imdb-lstm")):
        assert in_venv(venv, *light).returncode == 0, in_venv(venv, *light).stderr
    for heavy, extra in ((("zoo", "train", "imdb-lstm"), "train"), (("zoo", "predict", str(tiny_run), "hello"), "train"),
                         (("zoo", "export", str(tiny_run)), "export"), (("zoo", "pack", str(tiny_run)), "export")):
        refused = in_venv(venv, *heavy)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip() == f"error: this needs torch, which is not installed: pip install 'rnn-zoo[{extra}]'"

    named = in_venv(venv, "zoo", "-p", "torchy", "predict", "export", "hello", cwd=plugin)
    assert named.returncode == 2 and "Traceback" not in named.stderr, named.stderr
    assert "tokenizer 'torchy' from plugin torchy" in named.stderr and "needs the module torch" in named.stderr
