"""Peak resident memory of training: ``zoo train imdb-lstm`` against the notebook-style pipeline.

Each runs in a process of its own, one after the other, under a small parent that reports the
child's peak resident set (``ru_maxrss``): the notebook-style pipeline of ``speed.py`` (its
reviews in a pandas DataFrame, tokenized again in every batch), then ``zoo train`` as a user runs
it, once with the prepared-data cache cold (a private empty cache: it reads the archive and
tokenizes), then warm (every run after the first), then warm with glibc's malloc left alone
(``ZOO_KEEP_FREED_MEMORY=0``, see ``zoo/memory.py``). Both train one epoch of the default recipe
on the same reviews. The warm runs load this module as a plugin, whose lifecycle hooks report
the resident memory at each phase, to show where it is taken.

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

from zoo import hookimpl

#: Lines ``phase NAME RSS HWM`` (MB) on stderr, written by this module's hooks when ``zoo train``
#: runs with it as a plugin (``ZOO_PLUGINS=train_memory``): where the memory is taken.
PHASE = "phase"


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field))


def _phase(name: str) -> None:
    sys.stderr.write(f"{PHASE} {name.replace(' ', '_')} {_status_mb('VmRSS:'):.0f} {_status_mb('VmHWM:'):.0f}\n")


@hookimpl
def on_run_start(run) -> None:
    _phase("data prepared, model built")


@hookimpl
def on_epoch_end(run, epoch, metrics) -> None:
    _phase(f"epoch {epoch} trained and validated")


@hookimpl
def on_run_end(run, summary) -> None:
    _phase("test split evaluated")


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


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float, list[str]]:
    """``(peak RSS in MB, seconds, phase lines)`` of ``command`` run in a process of its own."""
    from export_speed import MEASURE  # runs a command, then prints its peak RSS (MB) last

    tick = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    phases = [line for line in result.stderr.splitlines() if line.startswith(PHASE + " ")]
    return float(result.stdout.strip().splitlines()[-1]), time.perf_counter() - tick, phases


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
        warm = {**cold, "ZOO_PLUGINS": "train_memory"}
        rows["zoo train, warm cache"] = measured([sys.executable, *train, "--out", f"{scratch}/warm"], warm)
        rows["zoo train, warm, malloc left alone"] = measured(
            [sys.executable, *train, "--out", f"{scratch}/plain"], {**warm, "ZOO_KEEP_FREED_MEMORY": "0"})
    base = rows["notebook-style pipeline"][0]
    print(f"one epoch of the default recipe, {'all' if not args.limit else args.limit} reviews per split")
    width = max(len(name) for name in rows) + 2
    print(f"{'process':<{width}}{'peak RSS MB':>12}{'x notebook':>12}{'wall s':>9}")
    for name, (peak, seconds, _) in rows.items():
        print(f"{name:<{width}}{peak:>12,.0f}{peak / base:>11.2f}x{seconds:>9.1f}")
    for name in ("zoo train, warm cache", "zoo train, warm, malloc left alone"):
        print(f"{name}: resident MB (peak so far) at each phase")
        for line in rows[name][2]:
            _, phase, rss, hwm = line.split()
            print(f"  {phase.replace('_', ' '):<36}{rss:>7} ({hwm})")


if __name__ == "__main__":
    main()
