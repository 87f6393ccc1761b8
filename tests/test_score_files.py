"""Whole tables through a trained run: zoo predict --input/--output and zoo evaluate --input."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import zoo
from plugin_packages import plugin_env, run_zoo
from zoo.score_files import predict_file

CUES = ["alpha", "bravo", "charlie"]
FILLER = "ta lo mir fen oku zar bim dwel kesh nuro pim sol".split()
SPEC = """
name: tickets
data:
  dataset: {type: table, train: train.csv, text: body, label: queue}
model:
  embedding: {dim: 16}
  encoder: {type: lstm, hidden_size: 16, pooling: max}
  head: {type: mlp, hidden_sizes: [16]}
train: {epochs: 4, batch_size: 16, optimizer: {lr: 0.01}, cpu_shards: 1}
"""


def rows(n: int, seed: int) -> list[tuple[str, str, int]]:
    """(body, queue, id): the queue is the first word of the body."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        cue = CUES[i % 3]
        out.append((" ".join([cue, *rng.choices(FILLER, k=rng.randint(2, 10))]), cue, 1000 + i))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tickets")
    pd.DataFrame(rows(240, 0), columns=["body", "queue", "id"]).to_csv(root / "train.csv", index=False)
    (root / "tickets.yaml").write_text(SPEC)
    env = {"ZOO_CACHE_DIR": str(root / "cache")}
    result = run_zoo("train", "tickets.yaml", "--out", "run", "--json", env=env, cwd=root)
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["task"] == "multiclass"
    return root


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".csv.gz"])
def test_every_row_comes_out_in_order_with_its_columns_and_prediction(run, suffix):
    new = pd.DataFrame([(body, i) for body, _, i in rows(25, 7)], columns=["body", "id"])
    source = run / "new.csv"
    new.to_csv(source, index=False)
    target = run / f"scored{suffix}"
    result = run_zoo("predict", "run", "--input", "new.csv", "--output", target.name, cwd=run)
    assert result.returncode == 0, result.stderr.decode()
    assert "25 rows labelled" in result.stderr.decode()
    scored = zoo.tables.read_table(target) if suffix != ".parquet" else pd.read_parquet(target)
    assert list(scored.columns) == ["body", "id", "label", "probability", "p_alpha", "p_bravo", "p_charlie"]
    assert scored["body"].astype(str).tolist() == new["body"].tolist()
    assert [str(v) for v in scored["id"]] == [str(v) for v in new["id"]]
    assert scored["label"].tolist() == [body.split()[0] for body in new["body"]]
    probabilities = scored[["p_alpha", "p_bravo", "p_charlie"]].astype(float)
    assert probabilities.sum(axis=1).tolist() == pytest.approx([1.0] * 25)
    assert scored["probability"].astype(float).tolist() == pytest.approx(probabilities.max(axis=1).tolist())


def test_the_file_answers_equal_the_python_answers_and_chunks_change_nothing(run, tmp_path):
    classifier = zoo.load(run / "run")
    texts = [body for body, _, _ in rows(30, 3)]
    pd.DataFrame({"body": texts}).to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    predict_file(classifier, tmp_path / "in.jsonl", tmp_path / "one.csv", chunk_rows=1000)
    predict_file(classifier, tmp_path / "in.jsonl", tmp_path / "many.csv", chunk_rows=7)
    one, many = (pd.read_csv(tmp_path / name) for name in ("one.csv", "many.csv"))
    pd.testing.assert_frame_equal(one, many)
    expected = classifier.predict(texts)
    assert one["label"].tolist() == [answer["label"] for answer in expected]
    assert one["p_bravo"].tolist() == pytest.approx([a["probabilities"]["bravo"] for a in expected])


def test_top_k_columns(run, tmp_path):
    pd.DataFrame({"body": ["bravo ta lo"]}).to_csv(tmp_path / "in.csv", index=False)
    classifier = zoo.load(run / "run")
    predict_file(classifier, tmp_path / "in.csv", tmp_path / "out.csv", top_k=2)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["body", "label", "probability", "top_1", "p_top_1", "top_2", "p_top_2"]
    assert out.loc[0, "top_1"] == "bravo" and out.loc[0, "p_top_1"] >= out.loc[0, "p_top_2"]


def test_file_prediction_mistakes_are_one_line(run, tmp_path):
    pd.DataFrame({"text": ["alpha"], "label": ["x"]}).to_csv(tmp_path / "in.csv", index=False)
    missing = run_zoo("predict", str(run / "run"), "--input", str(tmp_path / "in.csv"), "--output",
                      str(tmp_path / "o.csv"))
    assert missing.returncode == 2
    assert "no column 'body'; its columns: 'text', 'label'" in missing.stderr.decode()
    clash = run_zoo("predict", str(run / "run"), "--input", str(tmp_path / "in.csv"), "--output",
                    str(tmp_path / "o.csv"), "--text-column", "text")
    assert clash.returncode == 2 and "--column-prefix" in clash.stderr.decode()
    prefixed = run_zoo("predict", str(run / "run"), "--input", str(tmp_path / "in.csv"), "--output",
                       str(tmp_path / "o.csv"), "--text-column", "text", "--column-prefix", "pred_")
    assert prefixed.returncode == 0, prefixed.stderr.decode()
    assert "pred_label" in pd.read_csv(tmp_path / "o.csv").columns
    alone = run_zoo("predict", str(run / "run"), "--input", str(tmp_path / "in.csv"))
    assert alone.returncode == 2 and "--input and --output go together" in alone.stderr.decode()
    same = run_zoo("predict", str(run / "run"), "--input", str(tmp_path / "in.csv"), "--output",
                   str(tmp_path / "in.csv"))
    assert same.returncode == 2 and "is the input file" in same.stderr.decode()
    assert not (tmp_path / "o.csv.tmp").exists()


def test_evaluate_scores_any_labelled_file(run, tmp_path):
    test = pd.DataFrame([(body, queue) for body, queue, _ in rows(30, 11)], columns=["body", "queue"])
    test.to_csv(tmp_path / "labelled.csv", index=False)
    result = run_zoo("evaluate", str(run / "run"), "--input", str(tmp_path / "labelled.csv"), "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["count"] == 30 and report["accuracy"] >= 0.9
    assert sum(map(sum, report["confusion"])) == 30
    renamed = test.rename(columns={"body": "b", "queue": "q"})
    renamed.loc[3, "q"] = "delta"
    renamed.to_csv(tmp_path / "other.csv", index=False)
    unknown = run_zoo("evaluate", str(run / "run"), "--input", str(tmp_path / "other.csv"),
                      "--text-column", "b", "--label-column", "q")
    assert unknown.returncode == 2
    assert "delta" in unknown.stderr.decode() and "line 5" in unknown.stderr.decode()


def test_sigterm_mid_way_leaves_the_old_output_and_no_temporary_file(run, tmp_path):
    """SIGTERM (``kill``, a container stopping) ended zoo on the spot: the output was kept whole,
    but a half-written ``.scored.csv.*.tmp`` was left beside it. It now unwinds like Ctrl-C."""
    pd.DataFrame(rows(200_000, 3), columns=["body", "queue", "id"]).to_csv(tmp_path / "big.csv", index=False)
    (tmp_path / "scored.csv").write_text("old\n")
    process = subprocess.Popen([sys.executable, "-m", "zoo", "predict", str(run / "run"), "--input", "big.csv",
                                "--output", "scored.csv"], cwd=tmp_path, env=plugin_env(None, None),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    def writing() -> bool:  # some rows written: the signal comes mid-way, not while the file opens
        return any(path.stat().st_size > 0 for path in tmp_path.glob(".scored.csv.*.tmp"))

    while not writing() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the prediction ended before it could be stopped mid-way"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr.decode()
    assert "zoo: terminated" in stderr.decode() and "Traceback" not in stderr.decode()
    assert (tmp_path / "scored.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "scored.csv"]


def test_an_input_whose_header_names_a_column_twice_is_refused(run, tmp_path):
    """``zoo predict --input`` wrote ``queue,queue.1`` for an input header ``queue,queue``."""
    (tmp_path / "in.csv").write_text("body,queue,queue\nalpha ta,a,b\n")
    result = run_zoo("predict", str(run / "run"), "--input", "in.csv", "--output", "out.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "in.csv, line 1: the header names the column 'queue' more than once" in result.stderr.decode()
    assert not (tmp_path / "out.csv").exists()
