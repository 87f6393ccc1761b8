"""Soak test: kill short training runs at random moments, resume them, compare with a clean run.

Each round starts ``zoo train`` on made-up data, sends SIGINT or SIGKILL after a random delay,
checks that nothing on disk is corrupt (every checkpoint loads, every metrics line parses, a
summary is either absent or complete), resumes with ``zoo train --resume``, and compares the
final metrics with an uninterrupted run of the same spec. It prints one row per signal: rounds,
runs killed mid-training, resumed to identical metrics, mismatches, corrupt files.

    python benchmarks/soak.py --rounds 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from zoo.errors import ZooError
from zoo.rundir import RunDir
from zoo.testing import write_imdb_folder

SMALL = ["--set", "data.dataset.valid_size=60", "--set", "train.epochs=4", "--set", "train.batch_size=16",
         "--set", "train.optimizer.lr=0.01", "--set", "model.embedding.dim=8",
         "--set", "model.encoder.hidden_size=16", "--set", "model.head.hidden_sizes=[16]"]
TIMINGS = ("seconds", "train_seconds", "train_tokens_per_second")


def zoo(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def outcome(run: Path) -> tuple[list[dict], dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for record in records:
        for key in TIMINGS:
            record.pop(key)
    return records, json.loads((run / "summary.json").read_text())["test"]


def intact(run: Path) -> bool:
    """Whatever a kill left behind is whole: checkpoints load, metrics lines and summary parse."""
    run_dir = RunDir(run)
    try:
        for checkpoint in (run_dir.last, run_dir.best):
            if checkpoint.exists():
                run_dir.load_checkpoint(checkpoint)
        if run_dir.metrics_file.exists():
            for line in run_dir.metrics_file.read_text().splitlines():
                json.loads(line)
        if run_dir.summary_file.exists():
            json.loads(run_dir.summary_file.read_text())
    except (ZooError, ValueError):
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="zoo-soak-"))
    env = {**os.environ, "ZOO_IMDB_SOURCE": str(write_imdb_folder(root, per_label=120)),
           "ZOO_CACHE_DIR": str(root / "cache")}

    started = time.perf_counter()
    reference = zoo("train", "imdb-lstm", *SMALL, "--out", str(root / "reference"), env=env)
    assert reference.wait() == 0, reference.stderr.read().decode()
    duration = time.perf_counter() - started
    expected = outcome(root / "reference")
    print(f"uninterrupted run: {duration:.1f} s; killing at random moments within it")

    tally: dict[str, Counter] = {"SIGINT": Counter(), "SIGKILL": Counter()}
    for i in range(args.rounds):
        name = rng.choice(list(tally))
        run = root / f"run{i}"
        process = zoo("train", "imdb-lstm", *SMALL, "--out", str(run), env=env)
        time.sleep(rng.uniform(0.0, duration))
        process.send_signal(getattr(signal, name))
        process.wait()
        counts = tally[name]
        counts["rounds"] += 1
        counts["killed mid-run"] += not (run / "summary.json").exists()
        if not intact(run):
            counts["corrupt"] += 1
            continue
        if not (run / "spec.yaml").exists():  # killed before the run existed: start it again
            args_ = ["train", "imdb-lstm", *SMALL, "--out", str(run), "--force"]
        elif (run / "summary.json").exists():
            args_ = None
        else:
            args_ = ["train", "--resume", str(run)]
        if args_ and zoo(*args_, env=env).wait() != 0:
            counts["resume failed"] += 1
            continue
        counts["identical" if outcome(run) == expected else "mismatch"] += 1

    print(f"{'signal':<9}{'rounds':>7}{'killed mid-run':>16}{'identical':>11}{'mismatch':>10}"
          f"{'corrupt':>9}{'resume failed':>15}")
    for name, counts in tally.items():
        print(f"{name:<9}{counts['rounds']:>7}{counts['killed mid-run']:>16}{counts['identical']:>11}"
              f"{counts['mismatch']:>10}{counts['corrupt']:>9}{counts['resume failed']:>15}")


if __name__ == "__main__":
    main()
