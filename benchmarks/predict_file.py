"""Rows per second and peak memory of ``zoo predict RUN --input F --output G`` on a large CSV.

Writes a CSV of about ``--size-mb`` megabytes (an ``id`` column, the review, its rating, the
test split's reviews repeated in order) outside the project, then scores it, each in a process
of its own whose peak resident memory is measured:

- ``zoo predict --input`` (streaming): the command as a user runs it, which reads, scores and
  writes the file in chunks;
- ``whole file`` (the baseline, with ``--baseline``): what one would write without it, in the
  same process layout: ``pandas.read_csv`` of the whole file, ``zoo.load(RUN).predict`` of every
  text, the probabilities added as columns, ``to_csv``.

Both outputs must have the input's row count. The baseline holds the file, its texts and every
answer at once, so its peak grows with the file; run it on a size that fits.

    python benchmarks/predict_file.py runs/recipes/imdb-lstm --size-mb 1024
    python benchmarks/predict_file.py runs/recipes/imdb-lstm --size-mb 200 --baseline
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from export_speed import MEASURE  # runs a command, then prints its peak RSS (MB) last
from predict_throughput import read_test_reviews

#: The baseline: the whole file in memory at once.
WHOLE_FILE = """\
import sys
import pandas as pd
import zoo
from zoo.memory import own_process
own_process()
run, source, target = sys.argv[1:]
frame = pd.read_csv(source)
answers = zoo.load(run).predict(frame["review"].tolist())
frame["label"] = [a["label"] for a in answers]
frame["probability"] = [a["probability"] for a in answers]
for label in answers[0]["probabilities"]:
    frame[f"p_{label}"] = [a["probabilities"][label] for a in answers]
frame.to_csv(target, index=False)
"""


def write_csv(path: Path, reviews: list[str], size_mb: float) -> int:
    """Write reviews (cycled) until the file holds ``size_mb`` megabytes; the number of rows."""
    limit, rows = size_mb * 1e6, 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "rating"])
        while handle.tell() < limit:
            writer.writerow([rows, reviews[rows % len(reviews)], 1 + rows % 10])
            rows += 1
    return rows


def measured(command: list[str]) -> tuple[float, float]:
    """``(seconds, peak RSS in MB)`` of ``command`` run in a process of its own."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds, float(result.stdout.split()[-1])


def count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trained run directory")
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the generated CSV")
    parser.add_argument("--baseline", action="store_true", help="also score the whole file at once")
    parser.add_argument("--workdir", help="where the CSVs go (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        source = Path(folder) / "reviews.csv"
        rows = write_csv(source, read_test_reviews(args.run), args.size_mb)
        print(f"{source.stat().st_size / 1e6:,.0f} MB, {rows:,} rows")
        settings = [("zoo predict --input (streaming)",
                     [sys.executable, "-m", "zoo", "predict", args.run, "--input", str(source),
                      "--text-column", "review", "--output", str(Path(folder) / "streamed.csv")], "streamed.csv")]
        if args.baseline:
            settings.append(("whole file (pandas, zoo.load().predict)",
                             [sys.executable, "-c", WHOLE_FILE, args.run, str(source),
                              str(Path(folder) / "whole.csv")], "whole.csv"))
        print("| setting | rows | seconds | rows/s | peak RSS MB |\n| --- | --- | --- | --- | --- |")
        for name, command, output in settings:
            seconds, peak = measured(command)
            written = count_rows(Path(folder) / output)
            assert written == rows, f"{name}: {written} rows written for {rows}"
            print(f"| {name} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
