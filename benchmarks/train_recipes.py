"""Train shipped recipes in full and record their results for the README and ``zoo recipes``.

Each recipe trains with its own spec (official split, its epochs) on the data named by
``ZOO_IMDB_SOURCE``. The figures go to ``zoo/recipes/results.json`` (read by ``zoo recipes``)
and a markdown table is printed for the README. A variant (``--set`` overrides) is recorded
under its ``--label`` with its recipe and overrides, and ``zoo recipes`` shows it under the
recipe.

    python benchmarks/train_recipes.py imdb-lstm
    python benchmarks/train_recipes.py imdb-lstm imdb-gru imdb-rnn imdb-bilstm imdb-best
    python benchmarks/train_recipes.py imdb-rnn --set data.max_length=null --label 'imdb-rnn, full length'
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import date
from pathlib import Path

import torch

import zoo
from zoo.io import atomic_write_json
from zoo.spec import RECIPES_DIR

RESULTS = RECIPES_DIR / "results.json"
#: Test figures recorded beside accuracy, where the task has them.
EXTRA_METRICS = ("roc_auc", "macro_f1", "mean_absolute_error", "accuracy_within_1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--out", default="runs/recipes", help="where the run directories go")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override the recipe (record the variant under --label)")
    parser.add_argument("--label", help="name to record the result under (default: the recipe's)")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.label and len(args.recipes) > 1:
        parser.error("--label names one variant: give one recipe with it")
    if args.overrides and not args.label:
        parser.error("a recipe with --set overrides is a variant: name it with --label")
    for name in args.recipes:
        spec = zoo.load_spec(name, args.overrides)
        label = args.label or name
        summary = zoo.train(spec, out=Path(args.out) / label.replace(" ", "-"), force=True)
        overrides = "".join(f" --set {o}" for o in args.overrides)
        test = summary["test"]
        results[label] = {
            "recipe": name,
            "overrides": args.overrides,
            "task": summary["task"],
            "test_accuracy": round(test["accuracy"], 4),
            **{f"test_{key}": round(test[key], 4) for key in EXTRA_METRICS if test.get(key) is not None},
            **({"test_majority_class_accuracy": round(max(map(sum, test["confusion"])) / test["count"], 4)}
               if summary["task"] == "multiclass" else {}),
            "epochs": summary["epochs_run"],
            "best_epoch": summary["best_epoch"],
            "train_seconds_per_epoch": round(summary["train_seconds_per_epoch"], 1),
            "parameters": summary["parameters"],
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
            "date": date.today().isoformat(),
            "command": f"python benchmarks/train_recipes.py {name}{overrides}"
            + (f" --label '{label}'" if args.label else ""),
        }
        atomic_write_json(RESULTS, results)
    print("| recipe | test accuracy | epochs (best) | s/epoch | parameters |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['test_accuracy']:.2%} | {r['epochs']} ({r['best_epoch']}) | "
              f"{r['train_seconds_per_epoch']} | {r['parameters']:,} |")


if __name__ == "__main__":
    main()
