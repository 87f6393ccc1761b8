"""Reviews per second of ``zoo predict`` on a file of reviews, one per line, as a user runs it.

Writes the 25,000 test reviews (newlines flattened) to a temporary file outside the project,
then times ``zoo predict RUN - --json < file`` end to end (start-up, loading, tokenizing,
scoring, writing JSON).

    python benchmarks/predict_throughput.py runs/recipes/imdb-lstm
    python benchmarks/predict_throughput.py runs/recipes/imdb-lstm --parts   # and where the time goes
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import zoo
from zoo.data.cache import cache_dir


def read_test_reviews(run: str) -> list[str]:
    """The test split's reviews of the run's dataset, newlines flattened (read with zoo's own data code)."""
    spec = zoo.load(run).spec
    raw = zoo.get_registry().build("dataset", spec.data.dataset).load(spec.data.source, cache_dir(), seed=spec.data.seed)
    return [" ".join(text.split()) for text in raw["test"].texts]


def offline_throughput(run: str, texts: list[str]) -> tuple[int, float]:
    """``(reviews answered, seconds)`` of ``zoo predict RUN - --json`` on ``texts``, end to end."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as handle:
        handle.write("\n".join(texts) + "\n")
        handle.flush()
        with open(handle.name, "rb") as stdin:
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "zoo", "predict", run, "-", "--json"],
                                    stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
            seconds = time.perf_counter() - start
    return result.stdout.count(b'"label"'), seconds


def start_up(run: str) -> float:
    """Seconds of ``zoo predict RUN "a fine film"``: the interpreter, imports and loading the run."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "zoo", "predict", run, "a fine film"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def in_process(run: str, texts: list[str]) -> dict[str, float]:
    """Seconds of each part of prediction in this process: encoding (tokenizing and looking up,
    in worker processes) and scoring (the model on the encoded texts, sharded as zoo's commands do)."""
    from zoo.data.encode import encode_texts
    from zoo.memory import own_process
    from zoo.trainer import predict_logits, supported_precision

    own_process()  # as in zoo's own commands
    classifier = zoo.load(run)
    start = time.perf_counter()
    encoded = encode_texts(texts, classifier.tokenizer, classifier.vocab)
    encoding = time.perf_counter() - start
    start = time.perf_counter()
    spec = classifier.spec
    predict_logits(classifier.model, encoded, classifier.batch_size, classifier.device, spec.data.max_length,
                   precision=supported_precision(spec.train.precision, classifier.device), shards=spec.train.cpu_shards)
    return {"encoding": encoding, "scoring": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trained run directory")
    parser.add_argument("--parts", action="store_true",
                        help="also time the start-up (one text) and, in this process, encoding and scoring")
    args = parser.parse_args()
    texts = read_test_reviews(args.run)
    answered, seconds = offline_throughput(args.run, texts)
    print(f"{answered:,} reviews answered in {seconds:.1f} s: {answered / seconds:,.0f} reviews/s")
    if args.parts:
        parts = {"start-up (zoo predict of one text)": start_up(args.run)}
        parts.update({f"{name} (in-process, {len(texts):,} texts)": value
                      for name, value in in_process(args.run, texts).items()})
        for name, value in parts.items():
            print(f"  {name}: {value:.2f} s")


if __name__ == "__main__":
    main()
