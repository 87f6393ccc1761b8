"""Train word2vec on the training split's reviews only and write it in the word2vec text format.

No pretrained vectors can be downloaded here, so this makes some: gensim's word2vec (skip-gram
with negative sampling) over the reviews of the *training* split of a spec's data, tokenized
by the spec's tokenizer, exactly as zoo trains on them. The validation and test reviews are
never read (the validation split is held out of the training split by ``data.dataset``), so a
model started from these vectors sees no more data than one trained from scratch.

gensim is a benchmark-only requirement, not a dependency of zoo:

    pip install -r benchmarks/requirements-word2vec.txt
    python benchmarks/word2vec.py --spec imdb-best --dim 96 --out vectors/imdb-train-w2v-96.txt
    zoo train imdb-best --set model.embedding.vectors=vectors/imdb-train-w2v-96.txt
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def training_sentences(spec_name: str, overrides: list[str]) -> list[list[str]]:
    """The training split's reviews as token lists (every word kept: ``data.min_freq=1``)."""
    import zoo
    from zoo.data.prepare import prepare_data

    spec = zoo.load_spec(spec_name, [*overrides, "data.min_freq=1", "data.max_size=null"])
    prepared = prepare_data(spec, zoo.get_registry())
    tokens = np.array(prepared.vocab.tokens, dtype=object)
    split = prepared.splits["train"]
    return [tokens[split[i]].tolist() for i in range(len(split))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="imdb-best", help="spec whose data and tokenizer to use")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    parser.add_argument("--dim", type=int, default=96, help="vector size (the spec's model.embedding.dim)")
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=2, help="ignore words seen fewer times")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="the vectors file to write (text format)")
    args = parser.parse_args()

    from gensim.models import Word2Vec

    started = time.perf_counter()
    sentences = training_sentences(args.spec, args.overrides)
    tokens = sum(map(len, sentences))
    print(f"{len(sentences):,} training reviews, {tokens:,} tokens ({time.perf_counter() - started:.1f} s)")
    model = Word2Vec(sentences, vector_size=args.dim, window=args.window, min_count=args.min_count, sg=1,
                     negative=5, epochs=args.epochs, workers=args.workers, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(f".{args.out.name}.tmp")
    model.wv.save_word2vec_format(str(partial), binary=False)
    os.replace(partial, args.out)  # a complete file or none
    print(f"{len(model.wv):,} words of dimension {args.dim} written to {args.out} "
          f"({time.perf_counter() - started:.1f} s in all)")


if __name__ == "__main__":
    main()
