"""Training on DataFrames end to end: binary, multi-class and multi-label rules, each learned."""

from __future__ import annotations

import random

import pandas as pd

import zoo

CUES = ["alpha", "bravo", "charlie", "delta"]
FILLER = "ta lo mir fen oku zar bim dwel kesh nuro pim sol".split()


def first_word_frame(classes: int, per_class: int = 80) -> pd.DataFrame:
    """The label is the first word; the rest is filler every class shares."""
    rng = random.Random(0)
    rows = [(" ".join([cue, *rng.choices(FILLER, k=rng.randint(3, 12))]), cue)
            for cue in CUES[:classes] for _ in range(per_class)]
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["text", "label"])


def train(tmp_path, dataset: dict) -> dict:
    spec = zoo.load_spec({
        "data": {"dataset": {"type": "table", **dataset}},
        "model": {"embedding": {"dim": 16}, "encoder": {"type": "lstm", "hidden_size": 16, "pooling": "max"},
                  "head": {"type": "mlp", "hidden_sizes": [16]}},
        "train": {"epochs": 4, "batch_size": 16, "optimizer": {"lr": 0.01}, "cpu_shards": 1},
    })
    return zoo.train(spec, out=tmp_path / "run")


def test_a_binary_rule_in_a_dataframe_is_learned(tmp_path, data_cache):
    summary = train(tmp_path, {"train": first_word_frame(2)})
    assert summary["test"]["accuracy"] >= 0.95 and summary["test"]["count"] == 16


def test_a_multiclass_rule_in_a_dataframe_is_learned(tmp_path, data_cache):
    summary = train(tmp_path, {"train": first_word_frame(4)})
    assert summary["test"]["accuracy"] >= 0.95 and summary["test"]["count"] == 32
    assert zoo.load(tmp_path / "run").predict(["charlie ta lo mir"])[0]["label"] == "charlie"


def test_a_multilabel_rule_in_a_dataframe_is_learned(tmp_path, data_cache):
    rng = random.Random(1)
    rows = []
    for _ in range(400):
        tags = sorted(rng.sample(CUES, rng.randint(1, 3)))
        rows.append((" ".join(rng.sample(tags + rng.choices(FILLER, k=6), k=len(tags) + 6)), "|".join(tags)))
    summary = train(tmp_path, {"train": pd.DataFrame(rows, columns=["text", "tags"]), "label": "tags",
                               "label_separator": "|"})
    assert summary["test"]["subset_accuracy"] >= 0.95
    classifier = zoo.load(tmp_path / "run")
    assert sorted(classifier.predict(["ta bravo lo delta mir"])[0]["label"]) == ["bravo", "delta"]
    from zoo.score_files import predict_file

    pd.DataFrame({"text": ["ta bravo lo delta mir", "alpha fen"]}).to_csv(tmp_path / "in.csv", index=False)
    predict_file(classifier, tmp_path / "in.csv", tmp_path / "out.csv")
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["label"].tolist() == ["bravo|delta", "alpha"]  # the run's label_separator
    assert list(scored.columns[-4:]) == [f"p_{cue}" for cue in CUES]
