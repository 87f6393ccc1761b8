"""Test accuracy and epoch time of the default recipe against the bucketing pool, over seeds.

Larger pools sort more reviews by length before cutting batches: less padding, so faster
epochs, but batches of nearly uniform length. This trains ``imdb-lstm`` in full for each
(pool, seed) and prints a table with the mean and spread per pool, so the default
``train.bucket_pool`` rests on more than one seed. Results are written to
``benchmarks/results/bucket_pool.json`` as they come (a rerun skips what is there).

    python benchmarks/bucket_pool.py --pools 10 25 100 --seeds 1 2 3
    python benchmarks/bucket_pool.py --pools random --seeds 1 2    # no bucketing at all
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import zoo
from zoo.io import atomic_write_json

RESULTS = Path(__file__).parent / "results" / "bucket_pool.json"


def _pool(text: str) -> int | str:
    return text if text == "random" else int(text)


def main() -> None:
    from zoo.memory import own_process

    own_process()  # a benchmark is zoo's own process, like the zoo command
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", type=_pool, nargs="+", default=[10, 25, 100],
                        help="batches per sorting pool, or 'random' for unsorted random batches")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", default="runs/bucket-pool", help="where the run directories go")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for pool in args.pools:
        for seed in args.seeds:
            key = f"pool {pool}, seed {seed}"
            if key in results:
                continue
            batching = "train.bucketing=false" if pool == "random" else f"train.bucket_pool={pool}"
            spec = zoo.load_spec("imdb-lstm", [batching, f"train.seed={seed}"])
            summary = zoo.train(spec, out=Path(args.out) / f"pool{pool}-seed{seed}", force=True)
            results[key] = {"pool": pool, "seed": seed, "test_accuracy": round(summary["test"]["accuracy"], 4),
                            "train_seconds_per_epoch": round(summary["train_seconds_per_epoch"], 1)}
            RESULTS.parent.mkdir(exist_ok=True)
            atomic_write_json(RESULTS, results)
    print("| bucket_pool | test accuracy per seed | mean | s/epoch (mean) |")
    print("| --- | --- | --- | --- |")
    for pool in sorted({r["pool"] for r in results.values()}, key=lambda p: (p == "random", str(p).zfill(9))):
        runs = sorted((r for r in results.values() if r["pool"] == pool), key=lambda r: r["seed"])
        accuracies = [r["test_accuracy"] for r in runs]
        per_seed = ", ".join(f"{r['test_accuracy']:.2%} (seed {r['seed']})" for r in runs)
        print(f"| {pool} | {per_seed} | {statistics.mean(accuracies):.2%} | "
              f"{statistics.mean(r['train_seconds_per_epoch'] for r in runs):.1f} |")


if __name__ == "__main__":
    main()
