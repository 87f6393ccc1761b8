"""Time IMDB data preparation: cold (from the archive) and warm (from the token cache).

    ZOO_IMDB_SOURCE=../shared/data/aclImdb_v1.tar.gz python benchmarks/data_prepare.py

Prints: the two timings, the vocabulary size of the official training split (words tokenizer,
min_freq 1), the mean and 95th-percentile review length in tokens of that split, and how much
padding length bucketing saves at batch size 32. The cache goes to a fresh temporary folder
(``--cache`` to choose one; it is then not deleted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from zoo.data.batching import batch_indices, padding_stats
from zoo.data.prepare import prepare_data
from zoo.plugins import get_registry
from zoo.spec import load_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("ZOO_IMDB_SOURCE"), help="archive or folder")
    parser.add_argument("--cache", type=Path, help="cache folder (default: a fresh temporary one)")
    parser.add_argument("--tokenizer", default="words")
    parser.add_argument("--split", default="official", choices=["official", "random"])
    args = parser.parse_args()
    if not args.source:
        parser.error("give --source or set ZOO_IMDB_SOURCE to aclImdb_v1.tar.gz")

    cache = args.cache or Path(tempfile.mkdtemp(prefix="zoo-cache-measure-"))
    registry = get_registry()
    spec = load_spec(
        {
            "tokenizer": args.tokenizer,
            "data": {"source": args.source, "dataset": {"type": "imdb", "split": args.split}},
        },
        registry=registry,
    )
    try:
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            data = prepare_data(spec, registry, cache_root=cache)
            timings.append((time.perf_counter() - start, data.info["cache_hit"]))
    finally:
        if args.cache is None:
            shutil.rmtree(cache, ignore_errors=True)

    train = data.splits["train"]
    lengths = train.lengths
    plain = padding_stats(lengths, batch_indices(lengths, 32, shuffle=True, bucketing=False, seed=1))
    pool = spec.train.bucket_pool
    bucketed = padding_stats(lengths, batch_indices(lengths, 32, shuffle=True, bucketing=True, pool=pool, seed=1))
    print(f"source:                {data.info['source']}")
    print(f"splits:                {data.info['counts']}")
    print(f"first prepare:         {timings[0][0]:.2f} s (cache hit: {timings[0][1]}; {data.info.get('built_timings')})")
    print(f"second prepare:        {timings[1][0]:.2f} s (cache hit: {timings[1][1]})")
    print(f"vocabulary (train):    {len(data.vocab):,} ids incl. <pad>, <unk> ({len(data.vocab) - 2:,} words)")
    print(f"train review length:   mean {lengths.mean():.1f}, p95 {np.percentile(lengths, 95):.0f}, max {lengths.max()} tokens")
    print(
        f"padding at batch 32:   random {plain['padding_fraction']:.1%} of computed tokens, "
        f"bucketed in pools of {pool} batches {bucketed['padding_fraction']:.1%} "
        f"({plain['padded'] / bucketed['padded']:.2f}x fewer tokens)"
    )


if __name__ == "__main__":
    main()
