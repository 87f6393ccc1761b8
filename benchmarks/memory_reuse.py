"""One zoo training epoch with glibc's default malloc against zoo's freed-memory reuse.

``zoo.memory`` changes process-wide malloc settings that cannot be undone in a running
process, so this script runs each epoch in a fresh child process, alternating the two settings
(``ZOO_KEEP_FREED_MEMORY=0`` is the baseline), and reports wall, user and system seconds and
minor page faults of the epoch alone, with the ratio of the medians.

    python benchmarks/memory_reuse.py --rounds 2                # the full 20,000-review split
    python benchmarks/memory_reuse.py --rounds 3 --limit 4000   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def child(limit: int | None) -> None:
    """Train one epoch of the default recipe and print its costs as JSON."""
    import torch

    import zoo
    from zoo.data.prepare import prepare_data
    from zoo.memory import own_process
    from zoo.model import build_model
    from zoo.trainer import make_optimizer, train_epoch

    own_process()  # as the zoo command does (ZOO_KEEP_FREED_MEMORY=0 leaves malloc alone)
    overrides = [f"data.limit={limit}"] if limit else []
    spec = zoo.load_spec("imdb-lstm", overrides)
    data = prepare_data(spec, zoo.get_registry())
    torch.manual_seed(spec.train.seed)
    model = build_model(spec.model, vocab_size=len(data.vocab))
    optimizer = make_optimizer(spec.train.optimizer, model.parameters())
    before, tick = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    train_epoch(model, data.splits["train"], spec, torch.device("cpu"), optimizer, 0)
    wall, after = time.perf_counter() - tick, resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall": wall, "user": after.ru_utime - before.ru_utime,
                      "sys": after.ru_stime - before.ru_stime, "faults": after.ru_minflt - before.ru_minflt}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="epochs per setting, alternating")
    parser.add_argument("--limit", type=int, help="reviews per split (class-balanced), default: all")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.limit)
        return
    settings = {"glibc default malloc": "0", "zoo keeps freed memory": "1"}
    results: dict[str, list[dict]] = {name: [] for name in settings}
    command = [sys.executable, __file__, "--child", *([f"--limit={args.limit}"] if args.limit else [])]
    for _ in range(args.rounds):
        for name, value in settings.items():
            out = subprocess.run(command, env={**os.environ, "ZOO_KEEP_FREED_MEMORY": value},
                                 capture_output=True, text=True, check=True).stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'setting':<24}{'wall s':>9}{'user s':>9}{'sys s':>8}{'page faults':>13}   (medians of {args.rounds})")
    medians = {}
    for name, runs in results.items():
        medians[name] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        m = medians[name]
        print(f"{name:<24}{m['wall']:>9.2f}{m['user']:>9.2f}{m['sys']:>8.2f}{m['faults']:>13,.0f}")
    base, ours = medians.values()
    print(f"speed-up: {base['wall'] / ours['wall']:.2f}x wall time")


if __name__ == "__main__":
    main()
