"""Tasks and metrics: figures against hand computation, and multiclass training end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from plugin_packages import run_zoo
from zoo import metrics
from zoo.errors import DataError, SpecError
from zoo.spec import TaskSpec
from zoo.task import Binary, Multiclass, Multilabel, resolve_task, task_from_dict


def test_roc_auc_ranks_logits_so_confident_positives_do_not_tie():
    logits = np.array([17, 18, 20, 25, 30, -1], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 1, 0])
    assert metrics.roc_auc(logits, labels) == 1.0
    assert Binary(("neg", "pos")).metrics(logits, labels)["roc_auc"] == 1.0
    # ties count one half: scores 1,1 for one positive and one negative -> 0.5
    assert metrics.roc_auc(np.array([1.0, 1.0]), np.array([1, 0])) == 0.5
    assert metrics.roc_auc(np.array([1.0, 2.0]), np.array([1, 1])) is None


def test_average_ranks_share_ties():
    assert metrics.average_ranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0])).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


def test_single_label_metrics_by_hand():
    # true:      a a a b b c
    # predicted: a a b b c c
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    found = metrics.single_label_metrics(true, predicted, ["a", "b", "c"])
    assert found["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert found["accuracy"] == pytest.approx(4 / 6)
    a, b, c = (found["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["support"]) == (1.0, pytest.approx(2 / 3), 3)
    assert (b["precision"], b["recall"], b["support"]) == (0.5, 0.5, 2)
    assert (c["precision"], c["recall"], c["support"]) == (0.5, 1.0, 1)
    f1 = {"a": 0.8, "b": 0.5, "c": 2 / 3}
    for name, value in f1.items():
        assert found["per_class"][name]["f1"] == pytest.approx(value)
    assert found["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert found["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert found["micro_f1"] == pytest.approx(4 / 6)  # single-label: micro F1 is accuracy


def test_ordinal_metrics_are_in_the_labels_units():
    found = metrics.ordinal_metrics(np.array([0, 1, 2]), np.array([1, 1, 0]), ["1", "2", "7"])
    assert found["mean_absolute_error"] == pytest.approx((1 + 0 + 6) / 3)
    assert found["accuracy_within_1"] == pytest.approx(2 / 3)


def test_multilabel_metrics_by_hand():
    true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=bool)
    predicted = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1]], dtype=bool)
    found = metrics.multilabel_metrics(true, predicted, ["x", "y", "z"])
    assert found["subset_accuracy"] == found["accuracy"] == pytest.approx(1 / 3)
    assert found["hamming_loss"] == pytest.approx(3 / 9)
    # tp = 3 (x twice, y once), fp = 1 (z), fn = 2 (z, y): micro P = 3/4, R = 3/5
    assert found["micro_f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert found["per_class"]["x"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert found["per_class"]["z"]["f1"] == 0.0 and found["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_probabilities_and_predictions_per_task():
    binary = Binary(("neg", "pos"))
    [p] = binary.predictions(binary.probabilities(np.array([0.0])))
    assert p == {"label": "pos", "probability": 0.5, "probabilities": {"pos": 0.5, "neg": 0.5}}
    multi = Multiclass(("a", "b", "c"))
    probabilities = multi.probabilities(np.array([[0.0, np.log(2.0), np.log(5.0)]]))
    assert probabilities[0].tolist() == pytest.approx([1 / 8, 2 / 8, 5 / 8])
    [top] = multi.predictions(probabilities, top_k=2)
    assert top["label"] == "c" and list(top["probabilities"]) == ["c", "b"]
    tags = Multilabel(("x", "y", "z"), threshold=0.3)
    [tagged] = tags.predictions(tags.probabilities(np.array([[0.0, -3.0, np.log(0.4 / 0.6)]])))
    assert tagged["label"] == ["x", "z"] and tagged["probability"] == 0.5


def test_a_task_survives_its_round_trip():
    for task in (Binary(("n", "p")), Multiclass(("a", "b", "c"), class_weights=(1.0, 2.0, 3.0)),
                 Multilabel(("x", "y"), threshold=0.7)):
        assert task_from_dict(json.loads(json.dumps(task.to_dict()))) == task


def test_the_data_decide_the_task_unless_the_spec_does():
    labels = np.array([0, 1, 1, 2])
    assert resolve_task(TaskSpec(), ["a", "b"], False, labels).name == "binary"
    assert resolve_task(TaskSpec(), ["a", "b", "c"], False, labels).name == "multiclass"
    assert resolve_task(TaskSpec(), ["a", "b"], True, labels).name == "multilabel"
    assert resolve_task(TaskSpec(type="multiclass"), ["a", "b"], False, labels).num_outputs == 2
    assert resolve_task(TaskSpec(type="multilabel"), ["a", "b", "c"], False, labels).name == "multilabel"
    with pytest.raises(SpecError, match="binary needs exactly two labels; the data have 3"):
        resolve_task(TaskSpec(type="binary"), ["a", "b", "c"], False, labels)
    with pytest.raises(SpecError, match="several labels per text"):
        resolve_task(TaskSpec(type="multiclass"), ["a", "b"], True, labels)
    with pytest.raises(DataError, match="needs two or more"):
        resolve_task(TaskSpec(), ["a"], False, labels)


def test_class_weights():
    train = np.array([0, 0, 0, 1, 2, 2])
    balanced = resolve_task(TaskSpec(class_weights="balanced"), ["a", "b", "c"], False, train)
    assert balanced.class_weights == pytest.approx((6 / 9, 6 / 3, 6 / 6))
    given = resolve_task(TaskSpec(class_weights={"b": 4.0}), ["a", "b", "c"], False, train)
    assert given.class_weights == (1.0, 4.0, 1.0)
    with pytest.raises(SpecError, match=r"unknown label\(s\) 'd'; the labels are: a, b, c"):
        resolve_task(TaskSpec(class_weights={"d": 2.0}), ["a", "b", "c"], False, train)


def test_weighted_losses_by_hand():
    import torch

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([0, 1])
    task = Multiclass(("a", "b"), class_weights=(1.0, 3.0))
    plain = -torch.log_softmax(logits, 1)[[0, 1], [0, 1]]
    assert task.loss(logits, targets).item() == pytest.approx((plain[0] + 3 * plain[1]).item())
    binary = Binary(("n", "p"), class_weights=(2.0, 1.0))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([0.5, -1.0]), torch.tensor([0.0, 1.0]),
                                                               reduction="none")
    assert binary.loss(torch.tensor([0.5, -1.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(
        (2 * bce[0] + bce[1]).item())


THREE_LABELS = '''
"""A dataset plugin with three labels: the first word names the class."""
import random
from pydantic import BaseModel, ConfigDict
from zoo import hookimpl
from zoo.data.interface import RawSplit

WORDS = {"neg": "awful", "pos": "great", "mixed": "uneven"}

class Config(BaseModel):
    """Three labels; the first word says which."""
    model_config = ConfigDict(extra="forbid")

class Moods:
    labels = ["neg", "pos", "mixed"]

    def fingerprint(self, source):
        return "moods-v1"

    def load(self, source, cache_dir, *, seed=1):
        rng = random.Random(seed)
        def split(n):
            ids = [i % 3 for i in range(n)]
            texts = [WORDS[self.labels[i]] + " " + " ".join(rng.choices(["ta", "lo", "mir", "fen"], k=6)) for i in ids]
            return RawSplit(texts, ids)
        return {"train": split(300), "valid": split(60), "test": split(90)}

@hookimpl
def register_components(registry):
    registry.register("dataset", "moods", config=Config, factory=lambda config: Moods())
'''

SPEC = """
name: moods
data: {dataset: moods}
model:
  embedding: {dim: 8}
  encoder: {type: lstm, hidden_size: 16}
  head: {type: mlp, hidden_sizes: [16]}
train: {epochs: 4, batch_size: 16, optimizer: {lr: 0.02}}
"""


@pytest.fixture(scope="module")
def moods_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("moods")
    (root / "moods_plugin.py").write_text(THREE_LABELS)
    (root / "spec.yaml").write_text(SPEC)
    env = {"PYTHONPATH": str(root), "ZOO_PLUGINS": "moods_plugin", "ZOO_CACHE_DIR": str(root / "cache")}
    result = run_zoo("train", str(root / "spec.yaml"), "--out", str(root / "run"), "--json", env=env)
    assert result.returncode == 0, result.stderr.decode()
    return root / "run", env, json.loads(result.stdout)


def test_three_labels_train_as_multiclass_not_binary(moods_run):
    run, env, summary = moods_run
    assert summary["task"] == "multiclass" and summary["labels"] == ["neg", "pos", "mixed"]
    assert summary["test"]["accuracy"] >= 0.95
    assert np.array(summary["test"]["confusion"]).shape == (3, 3)
    assert sum(map(sum, summary["test"]["confusion"])) == summary["test"]["count"] == 90
    assert "type: multiclass" in (run / "spec.yaml").read_text()


def test_a_multiclass_run_evaluates_and_predicts(moods_run):
    run, env, summary = moods_run
    evaluated = run_zoo("evaluate", str(run), "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr.decode()
    report = json.loads(evaluated.stdout)
    assert report["task"] == "multiclass" and report["accuracy"] == summary["test"]["accuracy"]
    assert set(report["per_class"]) == {"neg", "pos", "mixed"}
    table = run_zoo("evaluate", str(run), env=env).stdout.decode()
    assert "macro_f1" in table and "mixed" in table
    predicted = run_zoo("predict", str(run), "uneven ta lo", "great fen", "--top-k", "2", "--json", env=env)
    answers = json.loads(predicted.stdout)
    assert [a["label"] for a in answers] == ["mixed", "pos"]
    assert all(len(a["probabilities"]) == 2 for a in answers)
    assert answers[0]["probability"] == max(answers[0]["probabilities"].values())
