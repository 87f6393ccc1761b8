"""Seconds per training epoch: a notebook-style pipeline against zoo's trainer, side by side.

Both train the default recipe's model (Embedding(20) -> LSTM(64) -> Linear(64) -> ReLU ->
Linear(1), Adam 1e-3, batch 32, full-length reviews, vocabulary = every training word) on the
same reviews, in this one process, one after the other, with the same number of threads.

The baseline is this project's own re-implementation of the pipeline in the reference
tutorial, with only its defects mended (labels, unknown words): the reviews sit in a pandas
DataFrame behind a torch ``Dataset``; a ``DataLoader`` draws random batches of 32; its
``collate_fn`` tokenizes every review of every batch again in every epoch and looks each token up
in a dict; the LSTM runs on a packed sequence (``enforce_sorted=False``); a sigmoid output feeds
``nn.BCELoss``; validation also goes in batches of 32.

zoo's side is ``zoo.trainer.train_epoch`` on data prepared once (tokenized and cached), in
length-bucketed batches, and validation in batches of ``train.eval_batch_size``.

The yardstick that does not depend on the neighbours: the same invocation measures this machine's
float32 matrix-product peak (before and after the pipelines, the higher kept) and counts the
recurrent layers' arithmetic for the epoch's real tokens (:func:`recurrent_flops_per_token`).
The ``x floor`` column is each pipeline's training seconds per epoch over that floor.

    python benchmarks/speed.py --epochs 1              # the full 20,000-review training split
    python benchmarks/speed.py --limit 2000            # a quick check (under a minute)
    python benchmarks/speed.py --also train.cpu_shards=1   # add a row: zoo with one lever undone
    python benchmarks/speed.py --recipe imdb-gru --skip-notebook --also train.cpu_shards=1
                                                       # zoo rows only, relative to the first

The data come from ``ZOO_IMDB_SOURCE`` (or ``--source``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import zoo
from zoo.data.cache import cache_dir
from zoo.data.prepare import balanced_subset, prepare_data
from zoo.model import build_model
from zoo.task import Binary
from zoo.trainer import evaluate, make_optimizer, train_epoch


class ReviewFrame(Dataset):
    """(review text, label) rows of a DataFrame, as the tutorial keeps them."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, i: int) -> tuple[str, float]:
        row = self.frame.iloc[i]
        return row["review"], float(row["sentiment"])


class NotebookLSTM(nn.Module):
    """The tutorial's model: packed LSTM, last hidden state, MLP, sigmoid."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 20, padding_idx=0)
        self.rnn = nn.LSTM(20, 64, batch_first=True)
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 1)

    def forward(self, text: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(text), lengths.numpy(), enforce_sorted=False, batch_first=True
        )
        _, (hidden, _) = self.rnn(packed)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(hidden[-1]))))


def notebook_pipeline(train: pd.DataFrame, valid: pd.DataFrame, tokenize, epochs: int) -> list[dict]:
    """Train the baseline; returns per-epoch seconds, tokens and accuracies."""
    counts = Counter(token for text in train["review"] for token in tokenize(text))
    vocab = {token: i + 2 for i, (token, _) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]))}

    def collate(batch):
        texts, labels, lengths = [], [], []
        for text, label in batch:
            ids = torch.tensor([vocab.get(token, 1) for token in tokenize(text)] or [1], dtype=torch.int64)
            texts.append(ids)
            labels.append(label)
            lengths.append(ids.size(0))
        return nn.utils.rnn.pad_sequence(texts, batch_first=True), torch.tensor(labels), torch.tensor(lengths)

    torch.manual_seed(1)
    model = NotebookLSTM(len(vocab) + 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCELoss()
    train_dl = DataLoader(ReviewFrame(train), batch_size=32, shuffle=True, collate_fn=collate)
    valid_dl = DataLoader(ReviewFrame(valid), batch_size=32, shuffle=False, collate_fn=collate)
    records = []
    for _ in range(epochs):
        tick = time.perf_counter()
        model.train()
        tokens = 0
        for text, label, lengths in train_dl:
            optimizer.zero_grad()
            loss = loss_fn(model(text, lengths)[:, 0], label)
            loss.backward()
            optimizer.step()
            tokens += int(lengths.sum())
        train_seconds = time.perf_counter() - tick
        tick = time.perf_counter()
        model.eval()
        correct = 0
        with torch.no_grad():
            for text, label, lengths in valid_dl:
                correct += ((model(text, lengths)[:, 0] >= 0.5).float() == label).sum().item()
        records.append({"train_seconds": train_seconds, "valid_seconds": time.perf_counter() - tick,
                        "tokens": tokens, "valid_accuracy": correct / len(valid)})
    return records


def zoo_pipeline(spec, data, epochs: int) -> list[dict]:
    """Train with zoo's trainer on the prepared data; same record shape as the baseline."""
    device = torch.device("cpu")
    torch.manual_seed(spec.train.seed)
    model = build_model(spec.model, vocab_size=len(data.vocab))
    optimizer = make_optimizer(spec.train.optimizer, model.parameters())
    records = []
    for epoch in range(epochs):
        tick = time.perf_counter()
        stats = train_epoch(model, data.splits["train"], spec, device, optimizer, epoch)
        train_seconds = time.perf_counter() - tick
        tick = time.perf_counter()
        metrics = evaluate(model, data.splits["valid"], spec, device, Binary(tuple(data.labels)))
        records.append({"train_seconds": train_seconds, "valid_seconds": time.perf_counter() - tick,
                        "tokens": stats["train_tokens"], "valid_accuracy": metrics["accuracy"]})
    return records


def matmul_peak(size: int = 2048, repeats: int = 8) -> float:
    """This machine's float32 matrix-product rate (FLOP/s) on torch's current thread count: the
    best of ``repeats`` products of two ``size`` x ``size`` matrices."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up: oneDNN/BLAS picks its kernels and touches the pages
    best = float("inf")
    for _ in range(repeats):
        tick = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - tick)
    return 2 * size**3 / best


def recurrent_flops_per_token(encoder, embedding_dim: int) -> float:
    """Floating-point operations one token costs the recurrent layers in a training step.

    Per layer and direction a time step is one product of ``gates * H`` outputs over the layer's
    input and the previous state (``2 * gates * H * (in + H)`` operations, ``gates`` = 4 for an
    LSTM, 3 for a GRU, 1 for a plain RNN); the backward pass costs about twice the forward (the
    gradients of the inputs and of the weights), so a training step is three times the forward.
    The embedding, the head and the gate nonlinearities are left out: this is a floor.
    """
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[encoder.type]
    hidden, directions = encoder.hidden_size, 2 if encoder.bidirectional else 1
    forward, width = 0, embedding_dim
    for _ in range(encoder.num_layers):
        forward += directions * 2 * gates * hidden * (width + hidden)
        width = hidden * directions
    return 3.0 * forward


def main() -> None:
    from zoo.memory import own_process

    own_process()  # a benchmark is zoo's own process, like the zoo command
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, help="reviews per split (class-balanced), default: all")
    parser.add_argument("--source", default=os.environ.get("ZOO_IMDB_SOURCE"))
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override zoo's side of the spec, e.g. --set train.bucket_pool=50")
    parser.add_argument("--also", action="append", default=[], metavar="OVERRIDE",
                        help="also time zoo with this extra override (one more row each), "
                             "e.g. --also train.cpu_shards=1")
    parser.add_argument("--recipe", default="imdb-lstm", help="zoo's recipe (the baseline is always the LSTM)")
    parser.add_argument("--skip-notebook", action="store_true",
                        help="time zoo's rows only; speed-ups are then relative to the first")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    overrides = [*args.overrides] + ([f"data.limit={args.limit}"] if args.limit else [])
    if args.source:
        overrides.append(f"data.source={args.source}")
    spec = zoo.load_spec(args.recipe, overrides)
    registry = zoo.get_registry()

    # The same reviews for both: the dataset's split, then the same balanced subset as zoo's.
    tokenize = registry.build("tokenizer", spec.tokenizer)
    raw = registry.build("dataset", spec.data.dataset).load(spec.data.source, cache_dir(), seed=spec.data.seed)
    frames = {}
    for name in ("train", "valid"):
        split = raw[name]
        keep = balanced_subset(split.labels, spec.data.limit, spec.data.seed, name) if spec.data.limit else range(len(split))
        frames[name] = pd.DataFrame({"review": [split.texts[i] for i in keep],
                                     "sentiment": [split.labels[i] for i in keep]})
    data = prepare_data(spec, registry)
    assert len(data.splits["train"]) == len(frames["train"])

    print(f"train reviews: {len(frames['train'])}, valid reviews: {len(frames['valid'])}, "
          f"epochs: {args.epochs}, torch threads: {torch.get_num_threads()}")
    peaks = [matmul_peak()]
    results = {} if args.skip_notebook else {
        "notebook-style": notebook_pipeline(frames["train"], frames["valid"], tokenize, args.epochs)}
    results[f"zoo {args.recipe}" if args.recipe != "imdb-lstm" else "zoo"] = zoo_pipeline(spec, data, args.epochs)
    for extra in args.also:
        variant = zoo.load_spec(args.recipe, [*overrides, extra])
        results[f"zoo {extra}"] = zoo_pipeline(variant, prepare_data(variant, registry), args.epochs)
    peaks.append(matmul_peak())  # before and after: the higher (the stricter floor) counts
    peak = max(peaks)
    # the floor: the recurrent arithmetic of the epoch's real tokens (padding not counted) at the peak
    per_token = recurrent_flops_per_token(spec.model.encoder, spec.model.embedding.dim)
    rows = {}
    for name, records in results.items():
        train_s = np.mean([r["train_seconds"] for r in records])
        valid_s = np.mean([r["valid_seconds"] for r in records])
        tokens = np.mean([r["tokens"] for r in records])
        rows[name] = (train_s, valid_s, tokens / train_s, records[-1]["valid_accuracy"], tokens * per_token / peak)
    floor_tokens = np.mean([r["tokens"] for r in next(iter(results.values()))])
    print(f"float32 matrix-product peak: {peak / 1e9:,.1f} GFLOP/s (before {peaks[0] / 1e9:,.1f}, after "
          f"{peaks[1] / 1e9:,.1f}); {spec.model.encoder.type} recurrent work: {per_token / 1e3:,.1f} kFLOP per "
          f"token, {floor_tokens * per_token / 1e12:.3f} TFLOP per epoch, floor "
          f"{floor_tokens * per_token / peak:.2f} s")
    width = max(16, *(len(name) + 2 for name in rows))
    print(f"{'pipeline':<{width}}{'train s/epoch':>14}{'valid s':>9}{'tokens/s':>11}{'valid acc':>11}"
          f"{'train speed-up':>16}{'valid speed-up':>16}{'x floor':>9}")
    base = next(iter(rows.values()))
    for name, (train_s, valid_s, rate, acc, floor_s) in rows.items():
        print(f"{name:<{width}}{train_s:>14.2f}{valid_s:>9.2f}{rate:>11,.0f}{acc:>11.4f}"
              f"{base[0] / train_s:>15.1f}x{base[1] / valid_s:>15.1f}x{train_s / floor_s:>8.2f}x")


if __name__ == "__main__":
    main()
