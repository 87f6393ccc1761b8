"""The default recipe computes exactly what it always has, whatever zoo grows around it.

The figures below were produced by zoo before the task module existed (commit 111e865, the
recorded 86.82% code) with this exact function, on this project's 2-core x86_64 machine kind:
two epochs of ``imdb-lstm`` on made-up IMDB-layout data. Any change to the model, its
initialisation, the batches, the loss or the metrics shows here as a changed digit.
"""

from __future__ import annotations

import json

import zoo
from zoo.testing import write_imdb_folder
from zoo.trainer import train

EPOCHS = [
    {"train_loss": 0.695718871222602, "train_accuracy": 0.4222222222222222,
     "valid_loss": 0.6902523636817932, "valid_accuracy": 0.5333333333333333},
    {"train_loss": 0.6911022186279296, "train_accuracy": 0.5111111111111111,
     "valid_loss": 0.6903200149536133, "valid_accuracy": 0.5},
]
TEST = {"loss": 0.6938261389732361, "accuracy": 0.49166666666666664, "roc_auc": 0.4636111111111111}


def test_the_default_recipe_is_bit_for_bit_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    source = write_imdb_folder(tmp_path / "data", per_label=60)
    spec = zoo.load_spec("imdb-lstm", [f"data.source={source}", "data.dataset.valid_size=30", "train.epochs=2",
                                       "train.threads=2"])
    summary = train(spec, out=tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [{key: r[key] for key in EPOCHS[0]} for r in records] == EPOCHS
    assert {key: summary["test"][key] for key in TEST} == TEST
    assert summary["task"] == "binary"
