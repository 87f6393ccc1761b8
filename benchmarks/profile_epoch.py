"""Where one training epoch's time goes, phase by phase, for both pipelines of ``speed.py``.

Phases: tokenization (text -> ids), collation (ids -> padded tensors), forward (model + loss),
backward, optimizer step, and everything else (Python, the data loader, bookkeeping) as the
difference to the epoch's wall time.

    python benchmarks/profile_epoch.py                 # the full 20,000-review training split
    python benchmarks/profile_epoch.py --limit 4000    # a quicker look
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.data.batching import batch_indices, collate
from zoo.data.cache import cache_dir
from zoo.data.prepare import balanced_subset, prepare_data
from zoo.model import build_model
from zoo.parallel import batch_shards, resolve_shards
from zoo.trainer import make_optimizer

from speed import NotebookLSTM


class Clock:
    """Accumulates seconds per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] += now - self.last
        self.last = now


def step(clock: Clock, optimizer: torch.optim.Optimizer, loss) -> None:
    """One optimisation step, timing the forward pass (``loss()``), backward and update."""
    optimizer.zero_grad(set_to_none=True)
    value = loss()
    clock.lap("forward")
    value.backward()
    clock.lap("backward")
    optimizer.step()
    clock.lap("optimizer")


def notebook_epoch(texts: list[str], labels: list[int], tokenize, clock: Clock) -> float:
    """The notebook-style epoch: random batches, tokenized per batch, packed LSTM, BCELoss."""
    from collections import Counter

    counts = Counter(t for text in texts for t in tokenize(text))
    vocab = {token: i + 2 for i, (token, _) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]))}
    torch.manual_seed(1)
    model = NotebookLSTM(len(vocab) + 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(texts)).tolist()
    clock.last = start = time.perf_counter()
    for first in range(0, len(order), 32):
        rows = order[first : first + 32]
        ids = [torch.tensor([vocab.get(t, 1) for t in tokenize(texts[i])] or [1]) for i in rows]
        clock.lap("tokenization")
        lengths = torch.tensor([len(x) for x in ids])
        padded = nn.utils.rnn.pad_sequence(ids, batch_first=True)
        target = torch.tensor([float(labels[i]) for i in rows])
        clock.lap("collation")
        step(clock, optimizer, lambda: nn.functional.binary_cross_entropy(model(padded, lengths)[:, 0], target))
    return time.perf_counter() - start


def zoo_epoch(spec, data, clock: Clock) -> float:
    """zoo's epoch, the same steps as ``zoo.trainer.train_epoch`` with a clock between them."""
    split = data.splits["train"]
    torch.manual_seed(1)
    model = build_model(spec.model, vocab_size=len(data.vocab)).train()
    optimizer = make_optimizer(spec.train.optimizer, model.parameters())
    clock.last = start = time.perf_counter()
    batches = batch_indices(split.lengths, 32, shuffle=True, bucketing=True, pool=spec.train.bucket_pool,
                            seed=1, epoch=0)
    clock.lap("batching")
    with batch_shards(resolve_shards(spec.train.cpu_shards, torch.device("cpu"))):
        for indices in batches:
            batch = collate(split, indices)
            clock.lap("collation")
            step(clock, optimizer,
                 lambda: F.binary_cross_entropy_with_logits(model(batch.ids, batch.lengths), batch.labels))
    return time.perf_counter() - start


def report(name: str, clock: Clock, wall: float) -> None:
    clock.seconds["other (Python, loop)"] = wall - sum(clock.seconds.values())
    print(f"\n{name}: {wall:.1f} s")
    for phase, seconds in clock.seconds.items():
        print(f"  {phase:<22}{seconds:8.2f} s {100 * seconds / wall:6.1f} %")


def main() -> None:
    from zoo.memory import own_process

    own_process()  # a benchmark is zoo's own process, like the zoo command
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--source", default=os.environ.get("ZOO_IMDB_SOURCE"))
    parser.add_argument("--skip-notebook", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override zoo's side of the spec, e.g. --set train.cpu_shards=1")
    args = parser.parse_args()
    overrides = args.overrides + ([f"data.limit={args.limit}"] if args.limit else []) + (
        [f"data.source={args.source}"] if args.source else [])
    spec = zoo.load_spec("imdb-lstm", overrides)
    registry = zoo.get_registry()
    data = prepare_data(spec, registry)
    print(f"train reviews: {len(data.splits['train'])}, torch threads: {torch.get_num_threads()}")

    clock = Clock()
    report("zoo", clock, zoo_epoch(spec, data, clock))

    if not args.skip_notebook:
        raw = registry.build("dataset", spec.data.dataset).load(spec.data.source, cache_dir(), seed=spec.data.seed)
        split = raw["train"]
        keep = balanced_subset(split.labels, args.limit, spec.data.seed, "train") if args.limit else range(len(split))
        texts, labels = [split.texts[i] for i in keep], [split.labels[i] for i in keep]
        clock = Clock()
        report("notebook-style", clock, notebook_epoch(texts, labels, registry.build("tokenizer", spec.tokenizer), clock))


if __name__ == "__main__":
    main()
