"""Reviews per second of ``zoo predict`` on a file of reviews, one per line, as a user runs it.

Writes the 25,000 test reviews (newlines flattened) to a temporary file outside the project,
then times ``zoo predict RUN - --json < file`` end to end (start-up, loading, tokenizing,
scoring, writing JSON).

    python benchmarks/predict_throughput.py runs/recipes/imdb-lstm
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trained run directory")
    args = parser.parse_args()
    answered, seconds = offline_throughput(args.run, read_test_reviews(args.run))
    print(f"{answered:,} reviews answered in {seconds:.1f} s: {answered / seconds:,.0f} reviews/s")


if __name__ == "__main__":
    main()
