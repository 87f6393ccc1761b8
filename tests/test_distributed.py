"""Two-process CPU training with torchrun (gloo on loopback) against one process.

Why the two should match: every rank computes the same bucketed batch list from (seed, epoch)
and takes one contiguous half of each global batch of ``train.batch_size``; its loss is scaled
so that DDP's gradient average equals the global batch's mean gradient. One step of two
processes therefore sees the same reviews and applies the same update as one step of one
process; only floating-point summation order differs, so metrics agree to a few decimals
rather than bit for bit.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from plugin_packages import plugin_env
from test_training import SMALL, metrics, train  # noqa: F401 - the shared small recipe and fixture
from test_training import env  # noqa: F401


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_learn_like_one(env, tmp_path):  # noqa: F811 - pytest fixture
    single = tmp_path / "single"
    assert train(env, single, extra_env={"OMP_NUM_THREADS": "1"}).returncode == 0

    double = tmp_path / "double"
    full_env = plugin_env(env={**env, "OMP_NUM_THREADS": "1"})
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={free_port()}", "-m", "zoo", "train", "imdb-lstm", *SMALL, "--out", str(double)],
        capture_output=True, env=full_env, timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    summary = json.loads((double / "summary.json").read_text())
    assert summary["processes"] == 2
    assert sorted(p.name for p in double.iterdir()) == sorted(p.name for p in single.iterdir())

    one, two = metrics(single), metrics(double)
    assert [r["epoch"] for r in two] == [r["epoch"] for r in one]
    for a, b in zip(one, two):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3)
        assert b["valid_loss"] == pytest.approx(a["valid_loss"], rel=1e-3)
        assert abs(b["valid_accuracy"] - a["valid_accuracy"]) <= 0.02
    reference = json.loads((single / "summary.json").read_text())["test"]
    assert abs(summary["test"]["accuracy"] - reference["accuracy"]) <= 0.02


def torchrun(env, *args: str) -> subprocess.CompletedProcess:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    full_env.update(env)
    full_env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={free_port()}", "-m", "zoo", "train", *args],
        capture_output=True, env=full_env, timeout=300,
    )


def test_a_distributed_run_with_dropout_resumes_exactly(env, tmp_path):  # noqa: F811 - pytest fixture
    """Each rank draws its own dropout masks, so each rank's random state is saved and restored."""
    dropout = [*SMALL, "--set", "train.epochs=3", "--set", "model.embedding.dropout=0.3"]
    whole = tmp_path / "whole"
    done = torchrun(env, "imdb-lstm", *dropout, "--out", str(whole))
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    killed = tmp_path / "killed"
    stopped = torchrun({**env, "ZOO_PLUGINS": "killer", "KILL_AT_EPOCH": "1", "KILL_SIGNAL": "SIGKILL"},
                       "imdb-lstm", *dropout, "--out", str(killed))
    assert stopped.returncode != 0 and not (killed / "summary.json").exists()
    resumed = torchrun(env, "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    assert metrics(killed) == metrics(whole)
