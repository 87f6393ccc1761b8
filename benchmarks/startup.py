"""Start-up time of the CLI: ``zoo --help`` and ``zoo list`` minus a bare interpreter's start.

    python benchmarks/startup.py [--runs 10] [--json]

Each command runs ``--runs`` times in a fresh interpreter (``python -m zoo ...``, output
discarded) after one warm-up run; the figure is the median wall time minus the median of
``python -c pass``. Goal: under 0.5 s each. Also reports whether ``zoo list`` imports torch,
numpy or pandas (it must not: plugins register their factories as import strings).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "zoo --help": [sys.executable, "-m", "zoo", "--help"],
    "zoo list": [sys.executable, "-m", "zoo", "list"],
}
HEAVY = ("torch", "numpy", "pandas", "matplotlib")


def wall_times(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports() -> list[str]:
    """The heavy top-level modules that ``python -X importtime -m zoo list`` imports."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "zoo", "list"],
                            capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in imported]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    medians = {name: statistics.median(wall_times(cmd, args.runs)) for name, cmd in COMMANDS.items()}
    base = medians["python -c pass"]
    report = {
        "runs": args.runs,
        "python_seconds": round(base, 3),
        "help_seconds": round(medians["zoo --help"] - base, 3),
        "list_seconds": round(medians["zoo list"] - base, 3),
        "list_heavy_imports": heavy_imports(),
        "goal_seconds": 0.5,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"median of {args.runs} runs, minus `python -c pass` ({base:.3f} s):")
    for name in ("zoo --help", "zoo list"):
        extra = medians[name] - base
        print(f"  {name:<11} {extra:6.3f} s  ({'under' if extra < 0.5 else 'OVER'} the 0.5 s goal)")
    print(f"  heavy modules imported by zoo list: {', '.join(report['list_heavy_imports']) or 'none'}")


if __name__ == "__main__":
    main()
