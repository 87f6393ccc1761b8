"""Freed memory stays in the process: the next step's large tensors need no fresh pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys, torch
from zoo.memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def step():
    # a long batch's activations and workspace: blocks of 4 to 28 MB, alive together
    blocks = [torch.ones(n * 2**20) for n in (1, 7, 3, 5)]
    return sum(float(b[-1]) for b in blocks)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(json.dumps({"applied": applied, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def probe(mode: str, **env: str) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k not in ("ZOO_KEEP_FREED_MEMORY", "GLIBC_TUNABLES")}
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                            env={**full_env, **env}, check=True)
    return json.loads(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    """Each step's 64 MB is 16,384 pages; reused memory needs (almost) none of them again.

    glibc's default behaviour depends on what the process did before (its thresholds adapt), so
    only the kept case has a firm bound; the default case shows the difference where it shows.
    """
    kept = probe("keep")
    assert kept["applied"] is True
    assert kept["faults"] < 20 * 16384 / 4, kept


@pytest.mark.parametrize("env", [{"ZOO_KEEP_FREED_MEMORY": "0"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}])
def test_the_user_can_keep_malloc_as_it_is(env):
    assert probe("keep", **env)["applied"] is False


HOST = """
import json, sys, torch, zoo, zoo.memory
torch.set_num_threads(2)
classifier = zoo.load(sys.argv[1])
seen = []
original = torch.set_num_threads
torch.set_num_threads = lambda n: (seen.append(n), original(n))
classifier.predict(["zapfy glonk"] * 64)
print(json.dumps({"malloc": zoo.memory._applied, "threads_set": seen, "threads": torch.get_num_threads()}))
"""


def test_a_host_process_keeps_its_malloc_and_thread_settings(tmp_path):
    """zoo.load(RUN).predict in someone else's process changes nothing process-wide."""
    from zoo.testing import smoke_train

    run = smoke_train({"model": {"embedding": {"dim": 4}, "encoder": {"type": "lstm", "hidden_size": 4},
                                 "head": {"type": "linear"}}}, tmp_path)["run_dir"]
    result = subprocess.run([sys.executable, "-c", HOST, run], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == {"malloc": None, "threads_set": [], "threads": 2}
    from plugin_packages import run_zoo

    owned = run_zoo("predict", run, "zapfy glonk", "--json")  # zoo's own command tunes its process
    assert owned.returncode == 0, owned.stderr.decode()
