"""Model cards: every finished run writes RUN/README.md in the Hugging Face layout, its figures are
summary.json's; zoo card writes one for a run made before cards; labels from data cannot break
its YAML or Markdown."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import yaml

from plugin_packages import run_zoo
from zoo.testing import smoke_train

SECTIONS = ["# tiny", "## Model", "## Data", "## Results", "## How to use", "## Limitations", "## Versions"]


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card[4:card.index("\n---\n")])


def test_a_finished_run_has_a_card_whose_metrics_are_its_summarys(tiny_run):
    card = (tiny_run / "README.md").read_text()
    summary = json.loads((tiny_run / "summary.json").read_text())
    meta = front_matter(card)
    assert meta["library_name"] == "zoo" and "license" in meta and meta["datasets"] == ["imdb"]
    [result] = meta["model-index"][0]["results"]
    recorded = {metric["type"]: metric["value"] for metric in result["metrics"]}
    assert recorded == {name: value for name, value in summary["test"].items()
                        if name in recorded} and set(recorded) >= {"accuracy", "f1", "roc_auc", "loss"}
    assert meta["metrics"] == list(recorded)
    positions = [card.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert f"| accuracy | {summary['test']['accuracy']:.4f} | {summary['valid']['accuracy']:.4f} |" in card
    assert "![Learning curves" in card and "zoo serve" in card and "zoo.runtime.load" not in card
    assert f"had {summary['data']['train_max_tokens']:,} tokens" in card
    assert f"Vocabulary: {summary['vocab_size']:,} tokens" in card and "Out-of-vocabulary rate on the test split" in card
    info = json.loads((tiny_run / "run.json").read_text())
    assert f"| torch | {info['torch'].replace('+', chr(92) + '+')} |" in card


def test_zoo_card_writes_the_card_of_a_run_made_before_cards(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "old"))
    (run / "README.md").unlink()
    summary = json.loads((run / "summary.json").read_text())
    for key in ("valid", "data"):
        summary.pop(key)
    (run / "summary.json").write_text(json.dumps(summary))
    result = run_zoo("card", str(run), env={"ZOO_CACHE_DIR": str(tiny_run.parent / "cache")})
    assert result.returncode == 0, result.stderr.decode()
    card = (run / "README.md").read_text()
    assert all(section in card for section in SECTIONS)
    best = next(json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
                if json.loads(line)["epoch"] == summary["best_epoch"])
    assert f"| accuracy | {summary['test']['accuracy']:.4f} | {best['valid_accuracy']:.4f} |" in card
    assert "| train | 18 |" in card  # its data were at hand (a local folder): the figures are computed


def test_zoo_card_refuses_an_unfinished_run(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "unfinished"))
    (run / "summary.json").unlink()
    result = run_zoo("card", str(run))
    assert result.returncode == 2 and "not a finished run" in result.stderr.decode()


def test_labels_from_data_cannot_break_the_cards_yaml_or_markdown(tmp_path, data_cache):
    labels = ["[click](javascript:alert(1))", "<img src=x onerror=alert(1)>", "a|b\n---\nlicense: mit"]
    with (tmp_path / "train.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(60):
            writer.writerow([f"word{i % 3} ta lo", labels[i % 3]])
    summary = smoke_train({"name": "evil: [x]\n---", "data": {"dataset": {"type": "table", "train": str(tmp_path / "train.csv")}},
                           "model": {"embedding": {"dim": 4}, "encoder": {"type": "gru", "hidden_size": 4},
                                     "head": {"type": "linear"}}}, tmp_path)
    card = (Path(summary["run_dir"]) / "README.md").read_text()
    meta = front_matter(card)
    assert meta["license"] == "unknown" and meta["model-index"][0]["name"] == "evil: [x]\n---"
    body = card[card.index("\n---\n") + 5:]
    assert not re.search(r"(?<!\\)<img", body) and "](javascript" not in body and "\n---\nlicense" not in body
    assert r"\<img src=x onerror=alert\(1\)\>" in body and r"\[click\]\(javascript:alert\(1\)\)" in body
    assert r"a\|b\\n---\\nlicense: mit" in body  # one line: its bar and line breaks escaped
