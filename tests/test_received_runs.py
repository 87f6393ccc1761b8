"""Run directories from someone else (issue 20): each crafted run is refused with one line naming
the file and the field, never a traceback, a hang, a huge allocation, a write outside the run,
an unverified download or a label from a broken model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from plugin_packages import peak_mb, run_zoo, start_zoo_measured
from zoo.testing import NEGATIVE_WORDS, POSITIVE_WORDS


@pytest.fixture
def run(tiny_run, tmp_path) -> Path:
    """A copy of the tiny run, to craft."""
    return Path(shutil.copytree(tiny_run, tmp_path / "received"))


@pytest.fixture
def env(tiny_run) -> dict[str, str]:
    return {"ZOO_CACHE_DIR": str(tiny_run.parent / "cache")}


def edit_spec(run: Path, change) -> None:
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    change(spec)
    (run / "spec.yaml").write_text(yaml.safe_dump(spec))


def edit_checkpoint(path: Path, change) -> None:
    """Rewrite a checkpoint with ``change`` applied to its state (crafted as zoo's own writer would)."""
    from zoo.safestate import decode, encode

    state = decode(path.read_bytes(), path)
    change(state)
    path.write_bytes(encode(state))


def to_legacy(run: Path) -> None:
    """Turn a run's checkpoints into the ``.pt`` files zoo wrote before safetensors (``torch.save``)."""
    from zoo.safestate import decode

    for name in ("best", "last"):
        new = run / "checkpoints" / f"{name}.safetensors"
        torch.save(decode(new.read_bytes(), new), new.with_suffix(".pt"))
        new.unlink()


def refused(result: subprocess.CompletedProcess, *expected: str) -> str:
    """The one-line error of a refused command (exit status 2, no traceback)."""
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    for text in expected:
        assert text in stderr, stderr
    return stderr


@pytest.fixture
def zoo_cli(env, capsys, monkeypatch):
    """``zoo ARGS`` run by ``zoo.cli.main`` in this process (fast), with ``env`` (and ``extra``)
    as the only ``ZOO_*`` variables: the exit status and what it printed."""
    from zoo.cli import main

    def call(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        for key in [key for key in os.environ if key.startswith("ZOO_")]:
            monkeypatch.delenv(key)
        for key, value in {**env, **(extra or {})}.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        status = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out.encode(), err.encode())

    return call


def predict(run: Path, env, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """``zoo predict RUN "ta zapfy lo" ARGS`` in a fresh interpreter (for what could hang or blow up)."""
    return run_zoo("predict", str(run), "ta zapfy lo", *args, env=env, **kwargs)


# --- item 1: writes never follow a link out of the run ------------------------------------------


def test_resuming_never_writes_through_a_link_out_of_the_run(run, env, tmp_path, zoo_cli):
    outside = tmp_path / "elsewhere"
    shutil.move(run / "checkpoints", outside)
    (run / "checkpoints").symlink_to(outside, target_is_directory=True)
    before = {path.name: path.read_bytes() for path in outside.iterdir()}
    result = zoo_cli("train", "--resume", str(run), "--set", "train.epochs=3")
    refused(result, f"{run}/checkpoints/", "leads out of the run directory", "symbolic link")
    assert {path.name: path.read_bytes() for path in outside.iterdir()} == before
    (run / "checkpoints").unlink()
    shutil.move(outside, run / "checkpoints")
    diary = tmp_path / "diary.txt"
    diary.write_text("mine\n")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(diary)
    refused(zoo_cli("train", "--resume", str(run), "--set", "train.epochs=3"), "metrics.jsonl leads out")
    assert diary.read_text() == "mine\n"


def test_every_writer_checks_its_path(run, tmp_path):
    from _zoo_builtins import metrics_log, tensorboard_log
    from zoo.errors import RunError
    from zoo.rundir import RunDir

    (tmp_path / "logs").mkdir()
    (run / "tensorboard").symlink_to(tmp_path / "logs", target_is_directory=True)
    (run / "summary.json").unlink()
    (run / "summary.json").symlink_to(tmp_path / "summary.json")
    handle = type("Run", (), {"dir": run, "spec": None})
    with pytest.raises(RunError, match="tensorboard leads out of the run directory"):
        tensorboard_log.log_dir(handle)
    with pytest.raises(RunError, match="summary.json leads out of the run directory"):
        RunDir(run).check_writable()
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(run / "vocab.json")  # a link inside the run is still a link
    with pytest.raises(RunError, match="metrics.jsonl leads out"):
        metrics_log.on_epoch_end(handle, 1, {"epoch": 1})
    assert json.loads((run / "vocab.json").read_text())["format"] == "zoo-vocab"


# --- item 2: a recorded source is the sender's ------------------------------------------------


def test_a_recorded_address_is_not_downloaded_unverified_and_the_local_source_wins(run, env, served, tiny_run, zoo_cli):
    url, digest, requests = served
    edit_spec(run, lambda spec: spec["data"].update(source=url))
    refused(zoo_cli("evaluate", str(run)), f"refusing to download {url} (from data.source) without a checksum")
    local = str(tiny_run.parent / "data" / "aclImdb")
    result = zoo_cli("evaluate", str(run), "--json", extra={"ZOO_IMDB_SOURCE": local})
    assert result.returncode == 0, result.stderr.decode()
    assert f"data: ZOO_IMDB_SOURCE={local}, in place of the run's recorded data.source {url}" in result.stderr.decode()
    assert "(ZOO_IMDB_SOURCE)" in json.loads(result.stdout)["source"]
    result = zoo_cli("evaluate", str(run), "--source", local)
    assert result.returncode == 0 and f"data: --source {local}, in place of" in result.stderr.decode()
    result = zoo_cli("train", "--resume", str(run), "--source", local, "--set", "train.epochs=3")
    assert result.returncode == 0, result.stderr.decode()
    assert f"data: --source {local}" in result.stderr.decode()
    assert requests == []  # nothing was downloaded, ever


def test_resuming_or_evaluating_on_other_data_is_refused_even_with_the_same_vocabulary_size(run, env, tiny_run,
                                                                                          tmp_path, zoo_cli):
    other = Path(shutil.copytree(tiny_run.parent / "data", tmp_path / "other"))
    for review in other.rglob("*.txt"):  # one word renamed everywhere: same counts, same size
        review.write_text(review.read_text().replace("zapfy", "zapfx").replace("Zapfy", "Zapfx"))
    for command in (["evaluate", str(run)], ["train", "--resume", str(run), "--set", "train.epochs=3"]):
        message = refused(zoo_cli(*command, "--source", str(other / "aclImdb")),
                          f"the data now give a different vocabulary than {run}/vocab.json (the same size, but token")
        assert "'zapfx' instead of 'zapfy'" in message and "Name the original data with --source" in message
    (other / "aclImdb" / "train" / "pos" / "0_9.txt").write_text("brandnew words entirely")
    refused(zoo_cli("train", "--resume", str(run), "--source", str(other / "aclImdb"), "--set", "train.epochs=3"), "tokens instead of")
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 2  # nothing trained


# --- item 6: bounded before anything is allocated or read -------------------------------------


def test_a_spec_asking_for_a_huge_model_is_refused_before_allocating_it(run, env, zoo_cli):
    tiny = 36 * 4 + 4 * (4 * 4 + 4 * 4 + 4 + 4) + (4 * 4 + 4) + (4 + 1)  # embedding, LSTM, head
    refused(zoo_cli("predict", run, "ta", "--max-parameters", tiny - 1), f"describes a model of {tiny} parameters")
    assert zoo_cli("predict", run, "ta", "--max-parameters", tiny).returncode == 0
    edit_spec(run, lambda spec: spec["model"]["head"].update(hidden_sizes=[65536] * 64))
    assert (run / "spec.yaml").stat().st_size < 4096
    process = start_zoo_measured("predict", str(run), "ta", env=env, stdin=subprocess.DEVNULL)
    stdout, stderr = process.communicate(timeout=300)
    stderr, peak = peak_mb(stderr)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr.encode())
    embedding, lstm = 36 * 4, 4 * (4 * 4 + 4 * 4 + 4 + 4)
    head = (4 * 65536 + 65536) + 63 * (65536 * 65536 + 65536) + (65536 + 1)
    assert embedding + lstm + head == 270_587_461_937
    refused(result, f"the spec.yaml of {run} describes a model of 270,587,461,937 parameters",
            "more than the 500,000,000 zoo builds")
    assert peak < 1000  # a real build would take 17 GB for one layer


def test_run_files_must_be_regular_files_of_bounded_size_inside_the_run(run, env, zoo_cli):
    """(In a fresh interpreter where zoo used to hang, in this one elsewhere.)"""
    (run / "vocab.json").unlink()
    (run / "vocab.json").symlink_to("/dev/zero")
    refused(predict(run, env, timeout=60), "vocab.json leads out of the run directory")
    (run / "vocab.json").unlink()
    os.mkfifo(run / "vocab.json")
    refused(predict(run, env, timeout=60), "vocab.json is a FIFO, not a regular file")
    (run / "vocab.json").unlink()
    (run / "vocab.json").write_text(json.dumps({"format": "zoo-vocab", "version": 1, "tokens": ["x" * 100] * 3_000_000}))
    refused(zoo_cli("predict", run, "ta"), "vocab.json has", "more than the 268,435,456 such a file may have")
    (run / "spec.yaml").unlink()
    os.mkfifo(run / "spec.yaml")
    refused(predict(run, env, timeout=60), "spec.yaml is a FIFO, not a regular file")
    (run / "spec.yaml").unlink()
    (run / "spec.yaml").write_text("name: x\n" + "#" * (1 << 20))
    refused(zoo_cli("predict", run, "ta"), "spec.yaml has", "more than the 1,048,576")


# --- item 10: every run file is validated -----------------------------------------------------


def drop(key):
    return lambda state: state.pop(key)


def put(key, value):
    return lambda state: state.__setitem__(key, value)


def model_put(key, value):
    return lambda state: state["model"].__setitem__(key, value)


BEST_CASES = {
    "an extra weight": (model_put("head.9.weight", torch.zeros(2)), "unexpected head.9.weight"),
    "a missing weight": (lambda s: s["model"].pop("head.2.bias"), "missing head.2.bias"),
    "a wrong shape": (model_put("head.2.weight", torch.zeros(3, 4)), "model.head.2.weight has shape (3, 4)"),
    "a wrong dtype": (lambda s: s["model"].__setitem__("head.2.bias", s["model"]["head.2.bias"].double()),
                      "model.head.2.bias is torch.float64"),
    "a string as weights": (put("model", "weights"), "best.safetensors: model: Input should be a valid dictionary"),
    "no labels": (lambda s: (s.pop("labels"), s.pop("task")), "holds neither 'task' nor 'labels'"),
    "labels as a string": (lambda s: (s.pop("task"), s.__setitem__("labels", "pos")),
                           "labels: must be a list of strings"),
    "one label": (lambda s: s.__setitem__("task", {"type": "multiclass", "labels": ["pos"]}),
                  "task.labels: must name at least two labels, not 1"),
    "a repeated label": (lambda s: s.__setitem__("task", {"type": "binary", "labels": ["a", "a"]}),
                         "must not repeat a label"),
    "NaN weights": (lambda s: s["model"]["head.2.weight"].fill_(float("nan")),
                    "model.head.2.weight holds NaN or infinite values"),
    "epoch 0": (put("epoch", 0), "epoch: Input should be greater than or equal to 1"),
}


@pytest.mark.parametrize("case", BEST_CASES)
def test_a_malformed_best_checkpoint_is_one_line_naming_file_and_field(run, env, case, zoo_cli):
    change, expected = BEST_CASES[case]
    edit_checkpoint(run / "checkpoints" / "best.safetensors", change)
    message = refused(zoo_cli("predict", run, "ta zapfy lo"), f"{run}/checkpoints/best.safetensors", expected)
    assert message.startswith("error:") and message.count("\n") == 1, message


def test_a_vocabulary_that_does_not_fit_the_weights_or_is_malformed(run, env, zoo_cli):
    vocab = json.loads((run / "vocab.json").read_text())
    (run / "vocab.json").write_text(json.dumps({**vocab, "tokens": vocab["tokens"][:-1], "counts": None}))
    refused(zoo_cli("predict", run, "ta zapfy lo"), "model.embedding.weight has shape (36, 4), but the run's spec.yaml and vocab.json "
                               "give (35, 4)")
    for broken, expected in [({**vocab, "tokens": "abc"}, "vocab.json: tokens: Input should be a valid list"),
                             ({**vocab, "tokens": ["<unk>", *vocab["tokens"]]}, "must start with the tokens <pad>"),
                             ({**vocab, "counts": [1]}, "1 counts for 36 tokens"),
                             ([1, 2], "vocab.json: the top level: Input should be a valid dictionary")]:
        (run / "vocab.json").write_text(json.dumps(broken))
        refused(zoo_cli("predict", run, "ta zapfy lo"), expected)


def test_a_run_json_of_the_wrong_shape_is_named(run, env, zoo_cli):
    edit_spec(run, lambda spec: spec["model"].update(encoder={"type": "gone"}))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "components": "lstm"}))
    refused(zoo_cli("predict", run, "ta zapfy lo"), "run.json: components: Input should be a valid dictionary")
    (run / "run.json").write_text(json.dumps({**info, "components": {"encoder/gone": "x"}}))
    refused(zoo_cli("predict", run, "ta zapfy lo"), "run.json: components.encoder/gone: Input should be a valid dictionary")


LAST_CASES = {
    "epoch 10**6": (put("epoch", 10**6), "last.safetensors: epoch: Input should be less than or equal to 100000"),
    "epoch -3": (put("epoch", -3), "last.safetensors: epoch: Input should be greater than or equal to 1"),
    "an epoch the history lacks": (put("epoch", 1), "epoch is 1 but the history holds 2 epochs"),
    "rng of the wrong size": (put("rng", [{"cpu": torch.zeros(3, dtype=torch.uint8), "cuda": None}]),
                              "last.safetensors: rng.0.cpu: must hold 5056 bytes"),
    "rng as a string": (put("rng", "seed"), "last.safetensors: rng: Input should be a valid list"),
    "an old single rng state of the wrong size": (put("rng", torch.zeros(3, dtype=torch.uint8)),
                                                  "rng.0.cpu: must hold 5056 bytes"),
    "best as {}": (put("best", {}), "last.safetensors: best.epoch: Field required"),
    "best after the last epoch": (put("best", {"epoch": 7, "value": 0.5}), "best.epoch 7 comes after"),
    "a history without losses": (lambda s: s["history"][0].pop("train_loss"), "history.0: train_loss: Field required"),
    "history epochs out of order": (lambda s: s["history"].reverse(), "the history's epochs are not 1, 2, ... in order"),
    "negative bad epochs": (put("bad_epochs", -1), "bad_epochs: Input should be greater than or equal to 0"),
    "a foreign optimizer": (lambda s: s["optimizer"]["param_groups"][0].pop("lr"), "optimizer.param_groups"),
    "moments of the wrong shape": (lambda s: s["optimizer"]["state"]["0"].__setitem__("exp_avg", torch.zeros(2)),
                                   "optimizer.state.0.exp_avg has shape (2,)"),
    "an extra key": (put("exploit", 1), "last.safetensors: exploit: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("case", LAST_CASES)
def test_a_crafted_last_checkpoint_is_one_line_naming_file_and_field(run, env, case, zoo_cli):
    change, expected = LAST_CASES[case]
    (run / "summary.json").unlink()  # an unfinished run, as if killed after epoch 2
    edit_checkpoint(run / "checkpoints" / "last.safetensors", change)
    result = zoo_cli("train", "--resume", str(run), "--set", "train.epochs=3")
    message = refused(result, f"{run}/checkpoints/last.safetensors", expected)
    assert message.split("error:", 1)[1].count("\n") == 1, message  # after the line saying which data
    assert not (run / "summary.json").exists()


def test_checkpoints_zoo_wrote_before_still_load(run, zoo_cli):
    """Older checkpoints: one CPU random state instead of one per rank; labels without a task."""
    (run / "summary.json").unlink()
    edit_checkpoint(run / "checkpoints" / "last.safetensors",
                    lambda state: state.__setitem__("rng", state["rng"][0]["cpu"]))
    edit_checkpoint(run / "checkpoints" / "best.safetensors", lambda state: state.pop("task"))
    result = zoo_cli("train", "--resume", run, "--set", "train.epochs=3", "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["epochs_run"] == 3


def test_a_run_written_with_pt_checkpoints_still_loads_and_resumes(run, zoo_cli, tiny_run):
    """A run from before safetensors (``checkpoints/*.pt``, written with ``torch.save``) predicts,
    evaluates and resumes; the first checkpoint written after it replaces the ``.pt`` file."""
    expected = json.loads(zoo_cli("predict", tiny_run, "ta zapfy lo", "--json").stdout)
    to_legacy(run)
    assert json.loads(zoo_cli("predict", run, "ta zapfy lo", "--json").stdout) == expected
    assert zoo_cli("evaluate", run, "--json").returncode == 0
    result = zoo_cli("train", "--resume", run, "--set", "train.epochs=3", "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) in (
        ["best.pt", "last.safetensors"], ["best.safetensors", "last.safetensors"])


def test_a_pickle_under_a_checkpoint_name_is_refused_without_unpickling(run, zoo_cli, tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    best = run / "checkpoints" / "best.safetensors"
    for content, expected in [(pickle.dumps({"model": Exploit()}), "not a safetensors file"),
                              ((2**40).to_bytes(8, "little") + b"{}", "its header claims 1,099,511,627,776 bytes"),
                              (len(b'{"a": 1}').to_bytes(8, "little") + b'{"a": 1}', "not a zoo checkpoint")]:
        best.write_bytes(content)
        refused(zoo_cli("predict", run, "ta zapfy lo"), f"{best}: ", expected)
    assert not marker.exists()


def test_a_summary_of_the_wrong_shape_is_named(run, env, zoo_cli):
    (run / "summary.json").write_text(json.dumps({"epochs_run": "many"}))
    refused(zoo_cli("train", "--resume", str(run)), "summary.json: epochs_run: Input should be a valid integer")


# --- item 9: non-finite outputs are errors, never labels --------------------------------------


def test_nan_weights_are_an_error_naming_the_run_never_a_label(run, env, zoo_cli):
    edit_checkpoint(run / "checkpoints" / "best.safetensors", lambda s: s["model"]["embedding.weight"].fill_(float("nan")))
    for command in (["predict", str(run), "ta", "--json"], ["evaluate", str(run), "--json"]):
        result = zoo_cli(*command)
        refused(result, f"{run}/checkpoints/best.safetensors: model.embedding.weight holds NaN or infinite values")
        assert result.stdout == b""


#: Texts on which :func:`overflowing` makes the tiny model's output NaN for some, not all.
TEXTS = [" ".join(POSITIVE_WORDS[:k] + NEGATIVE_WORDS[: 6 - k]) for k in range(7)]


def overflowing(run: Path) -> None:
    """Make the run's model give NaN for some of :data:`TEXTS` only: two equal units of head.0
    overflow to +inf when one encoder output passes a threshold between the texts' values, and
    head.2 takes their difference (inf - inf); below it the difference is exactly 0."""
    import zoo

    classifier = zoo.load(run)
    with torch.no_grad():
        encoded = [torch.tensor([classifier.vocab.encode(classifier.tokenizer(text))]) for text in TEXTS]
        outputs = torch.cat([classifier.model.encoder(classifier.model.embedding(ids), torch.tensor([ids.shape[1]]))
                             for ids in encoded])
    unit = int((outputs.max(0).values - outputs.min(0).values).argmax())
    values = sorted(outputs[:, unit].tolist())
    gap = max(range(len(values) - 1), key=lambda i: values[i + 1] - values[i])
    threshold = (values[gap] + values[gap + 1]) / 2
    sign = 1.0 if threshold >= 0 else -1.0

    def overflow(state):
        weights = state["model"]
        for name in ("head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"):
            weights[name].zero_()
        weights["head.0.weight"][:2, unit] = sign * 3e38
        weights["head.0.bias"][:2] = 3.4e38 - sign * 3e38 * threshold
        weights["head.2.weight"][0, :2] = torch.tensor([1.0, -1.0])

    edit_checkpoint(run / "checkpoints" / "best.safetensors", overflow)


def test_a_text_the_model_overflows_on_gets_an_error_not_a_label(run, zoo_cli):
    overflowing(run)
    result = zoo_cli("predict", str(run), *TEXTS, "--json")
    assert result.returncode == 1, result.stderr.decode()
    answers = json.loads(result.stdout)  # strict JSON: no NaN anywhere
    broken = [answer for answer in answers if "error" in answer]
    assert 0 < len(broken) < len(TEXTS)
    assert all(answer == {"text": answer["text"], "error": "the model's output for this text is NaN or infinite"}
               for answer in broken)
    assert all(answer["probability"] == 0.5 for answer in answers if "error" not in answer)
    table = zoo_cli("predict", str(run), *TEXTS).stdout.decode()
    assert table.count("NaN or infinite") == len(broken) and "nan" not in table


def test_a_row_the_model_overflows_on_gets_empty_cells_in_a_labelled_file(run, zoo_cli, tmp_path):
    import pandas

    overflowing(run)
    pandas.DataFrame({"text": TEXTS}).to_csv(tmp_path / "in.csv", index=False)
    result = zoo_cli("predict", run, "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv")
    assert result.returncode == 1
    scored = pandas.read_csv(tmp_path / "out.csv")
    unlabelled = scored["label"].isna()
    assert 0 < unlabelled.sum() < len(TEXTS) and scored[unlabelled]["probability"].isna().all()
    assert set(scored[~unlabelled]["label"]) == {"pos"}  # 0.5 gives the second label
    assert f"{unlabelled.sum()} rows got no label: the model's output for their text is NaN or infinite" \
        in result.stderr.decode()


def test_an_infinite_logit_gets_no_label_in_a_labelled_file_either(run, zoo_cli, tmp_path):
    """A binary run's +inf logit has a finite sigmoid (1.0): the file got the label the CLI and
    the server refuse to give."""
    import pandas

    def infinite(state):
        weights = state["model"]
        weights["head.0.weight"].zero_()
        weights["head.0.bias"].fill_(1.0)  # every hidden unit 1 after the ReLU, whatever the text
        weights["head.2.weight"].fill_(3.4e38)
        weights["head.2.bias"].fill_(3.4e38)  # their sum overflows to +inf

    edit_checkpoint(run / "checkpoints" / "best.safetensors", infinite)
    pandas.DataFrame({"text": TEXTS[:2]}).to_csv(tmp_path / "in.csv", index=False)
    result = zoo_cli("predict", run, "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv")
    assert result.returncode == 1, result.stderr.decode()
    assert pandas.read_csv(tmp_path / "out.csv")["label"].isna().all()
    assert "2 rows got no label: the model's output for their text is NaN or infinite" in result.stderr.decode()


def test_max_chars_cuts_long_texts_with_a_warning_naming_them(run, zoo_cli):
    long = "ta " * 500  # 1,500 characters
    result = zoo_cli("predict", run, "ta", long, "--max-chars", "1000", "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert "text 2 is longer than 1,000 characters (--max-chars); only its first 1,000 are used" \
        in result.stderr.decode()
    assert [len(answer["text"]) for answer in json.loads(result.stdout)] == [2, 1_000]
    result = zoo_cli("predict", run, long, "--max-chars", "1500", "--json")
    assert "warning" not in result.stderr.decode() and len(json.loads(result.stdout)[0]["text"]) == 1_500


def test_json_output_is_strict():
    from zoo.console import print_json

    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        print_json({"probability": float("nan")})


# --- item 11: data print as themselves, names make safe folders -------------------------------


def test_labels_and_texts_print_as_themselves(run, env, zoo_cli):
    def relabel(state):
        state["task"] = {"type": "binary", "labels": ["[/]", "\x1b[31mred\u202e"]}
        state["labels"] = state["task"]["labels"]

    edit_checkpoint(run / "checkpoints" / "best.safetensors", relabel)
    result = zoo_cli("predict", str(run), "ta [bold]x[/] \x1b[2J")
    assert result.returncode == 0, result.stderr.decode()
    table = result.stdout.decode()
    assert "\x1b" not in table and "ta [bold]x[/] \\x1b[2J" in table
    result = zoo_cli("evaluate", str(run))  # every label: per class and in the confusion matrix
    assert result.returncode == 0, result.stderr.decode()
    table = result.stdout.decode()
    assert "\x1b" not in table and "\u202e" not in table
    assert table.count("[/]") >= 2 and table.count("\\x1b[31mred\\u202e") >= 2
    answers = zoo_cli("predict", str(run), "ta", "--json").stdout
    assert json.loads(answers)[0]["label"] in ("[/]", "\x1b[31mred\u202e")  # JSON carries the data as they are


def test_a_spec_name_never_leads_out_of_runs_nor_breaks_the_output(tmp_path, tiny_run, zoo_cli, monkeypatch):
    spec = tmp_path / "spec.yaml"
    data = yaml.safe_load((tiny_run / "spec.yaml").read_text())
    data["name"] = "../../escaped/[/]x\x1b[2J"
    data["train"]["epochs"] = 1
    spec.write_text(yaml.safe_dump(data))
    work = tmp_path / "work" / "here"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    result = zoo_cli("train", spec)
    assert result.returncode == 0, result.stderr.decode()
    [folder] = (work / "runs").iterdir()
    assert folder.name.startswith("escaped-x-2J-")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "work" / "escaped").exists()
    assert "../../escaped/[/]x\\x1b[2J: result" in result.stdout.decode()


def test_labels_print_as_themselves_in_zoo_data(tmp_path, zoo_cli):
    rows = ["text,label"] + [f"word{i % 5} thing,{label}" for i in range(30)
                             for label in ["[/]", "\x1b[31mred", "[bold]x"][i % 3:i % 3 + 1]]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"data:\n  dataset: {{type: table, train: {tmp_path / 'train.csv'}, text: text, label: label}}\n")
    result = zoo_cli("data", "--spec", spec, extra={"ZOO_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr.decode()
    table = result.stdout.decode()
    assert "\x1b" not in table and all(name in table for name in ("[/]", "\\x1b[31mred", "[bold]x"))
