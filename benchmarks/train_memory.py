"""Peak resident memory of training: ``zoo train imdb-lstm`` against the notebook-style pipeline.

Each runs in a process of its own, one after the other, under a small parent that reports the
child's peak resident set (``ru_maxrss``): the notebook-style pipeline of ``speed.py`` (its
reviews in a pandas DataFrame, tokenized again in every batch), then ``zoo train`` as a user runs
it, once with the prepared-data cache warm (every run after the first) and once cold (a private
empty cache: it reads the archive and tokenizes). Both train one epoch of the default recipe on
the same reviews.

    python benchmarks/train_memory.py                 # the full 20,000-review training split
    python benchmarks/train_memory.py --limit 4000    # a quicker check

The data come from ``ZOO_IMDB_SOURCE`` (or ``--source``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from export_speed import MEASURE  # runs a command, then prints its peak RSS (MB) last


def notebook_child(limit: int | None, source: str) -> None:
    """In this process: the notebook-style pipeline of ``speed.py``, one epoch."""
    import pandas as pd

    import zoo
    from speed import notebook_pipeline
    from zoo.data.cache import cache_dir
    from zoo.data.prepare import balanced_subset

    spec = zoo.load_spec("imdb-lstm", [f"data.source={source}", *([f"data.limit={limit}"] if limit else [])])
    registry = zoo.get_registry()
    raw = registry.build("dataset", spec.data.dataset).load(spec.data.source, cache_dir(), seed=spec.data.seed)
    frames = {}
    for name in ("train", "valid"):
        split = raw[name]
        keep = balanced_subset(split.labels, limit, spec.data.seed, name) if limit else range(len(split))
        frames[name] = pd.DataFrame({"review": [split.texts[i] for i in keep],
                                     "sentiment": [split.labels[i] for i in keep]})
    del raw
    notebook_pipeline(frames["train"], frames["valid"], registry.build("tokenizer", spec.tokenizer), 1)


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """``(peak RSS in MB, seconds)`` of ``command`` run in a process of its own."""
    tick = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1]), time.perf_counter() - tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="reviews per split (class-balanced), default: all")
    parser.add_argument("--source", default=os.environ.get("ZOO_IMDB_SOURCE"))
    parser.add_argument("--notebook-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.source:
        raise SystemExit("name the IMDB archive: --source or ZOO_IMDB_SOURCE")
    if args.notebook_child:
        notebook_child(args.limit, args.source)
        return
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    limit = [f"--limit={args.limit}"] if args.limit else []
    train = ["-m", "zoo", "train", "imdb-lstm", "--set", "train.epochs=1", "--set", f"data.source={args.source}",
             *(["--set", f"data.limit={args.limit}"] if args.limit else [])]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="zoo-train-memory-") as scratch:
        rows["notebook-style pipeline"] = measured([sys.executable, __file__, "--notebook-child", *limit], env)
        cold = {**env, "ZOO_CACHE_DIR": str(Path(scratch) / "cache")}
        rows["zoo train, cold cache"] = measured([sys.executable, *train, "--out", f"{scratch}/cold"], cold)
        rows["zoo train, warm cache"] = measured([sys.executable, *train, "--out", f"{scratch}/warm"], cold)
    base = rows["notebook-style pipeline"][0]
    print(f"one epoch of the default recipe, {'all' if not args.limit else args.limit} reviews per split")
    print(f"{'process':<26}{'peak RSS MB':>12}{'x notebook':>12}{'wall s':>9}")
    for name, (peak, seconds) in rows.items():
        print(f"{name:<26}{peak:>12,.0f}{peak / base:>11.2f}x{seconds:>9.1f}")


if __name__ == "__main__":
    main()
