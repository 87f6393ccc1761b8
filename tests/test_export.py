"""zoo export: every built-in encoder (and the example plugin's) exported to ONNX and run by the
runtime gives the run's probabilities; binary, multiclass and multilabel runs; the torch.export
format; the self-check refuses a model that differs, leaving nothing behind; tampered exports are
one clear line. Each case is one export of a tiny made-up run (a few seconds: tracing dominates)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import zoo
import zoo.runtime
from plugin_packages import run_zoo
from zoo.errors import ZooError
from zoo.testing import smoke_train

#: A one-word text, an empty one, mixed lengths, unknown words: scored in one batch.
TEXTS = ["zapfy", "", "glonk sunmo", "ta zapfy lo mudge " * 30, "mudge skorn drabble ta lo mir fen oku zar bim",
         "nothing here is known", "Zapfy!<br />Mudge :)"]


def tiny(encoder: dict, tmp_path: Path, overrides: tuple[str, ...] = (), **parts) -> Path:
    """A one-epoch run of a small model on made-up data (``parts``: head, tokenizer, data)."""
    spec = {"name": "tiny", "model": {"embedding": {"dim": 5}, "encoder": encoder,
                                      "head": parts.pop("head", {"type": "mlp", "hidden_sizes": [6]})}, **parts}
    return Path(smoke_train(spec, tmp_path, overrides, per_label=12)["run_dir"])


def three_queues(folder: Path) -> dict:
    """A table dataset of three labels (the first word says which), as a spec's data section."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"{cue} ta lo {'mir ' * (i % 5)}fen,{cue}" for i in range(20) for cue in ("billing", "tech", "sales")]
    (folder / "tickets.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    return {"dataset": {"type": "table", "train": str(folder / "tickets.csv")}}


def exported(run: Path, tmp_path: Path, fmt: str = "onnx") -> Path:
    """``zoo export RUN`` in this process (the CLI is tested below), its token cache private."""
    from zoo.export.folder import export

    with mock.patch.dict(os.environ, {"ZOO_CACHE_DIR": str(tmp_path / "export-cache")}):
        manifest = export(run, tmp_path / f"export-{fmt}", fmt)
    assert manifest["self_check"]["max_difference"] <= 1e-5 and manifest["self_check"]["texts"] >= 64
    return Path(manifest["out"])


def assert_same_probabilities(run: Path, export: Path) -> None:
    expected = zoo.load(run).probabilities(TEXTS)
    got = zoo.runtime.load(export).probabilities(TEXTS)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5


ENCODERS = {
    "lstm": {"type": "lstm", "hidden_size": 7},
    "gru, bidirectional, mean": {"type": "gru", "hidden_size": 7, "bidirectional": True, "pooling": "mean"},
    "rnn, bidirectional, max, 2 layers": {"type": "rnn", "hidden_size": 7, "bidirectional": True, "pooling": "max",
                                          "num_layers": 2},
    "rnn relu, mean, 2 layers": {"type": "rnn", "nonlinearity": "relu", "hidden_size": 7, "pooling": "mean",
                                 "num_layers": 2},
    "lstm, bidirectional, max": {"type": "lstm", "hidden_size": 7, "bidirectional": True, "pooling": "max"},
    "gru, last, 2 layers": {"type": "gru", "hidden_size": 7, "num_layers": 2},
}


@pytest.mark.parametrize("name", ENCODERS)
def test_each_builtin_encoder_exports_to_onnx_with_the_runs_probabilities(name, tmp_path):
    run = tiny(ENCODERS[name], tmp_path)
    export = exported(run, tmp_path)
    assert_same_probabilities(run, export)
    assert sorted(p.name for p in export.iterdir()) == [
        "README.md", "export.json", "labels.json", "model.onnx", "model.safetensors", "spec.yaml", "tokenizer.json",
        "vocab.json"]


def test_a_multiclass_and_a_multilabel_run_export(tmp_path):
    multiclass = tiny(ENCODERS["gru, bidirectional, mean"], tmp_path / "a", data=three_queues(tmp_path / "data"))
    multilabel = tiny(ENCODERS["lstm"], tmp_path / "b", ("task=multilabel",))
    for run, kind in ((multiclass, "multiclass"), (multilabel, "multilabel")):
        export = exported(run, run.parent)
        assert json.loads((export / "labels.json").read_text())["type"] == kind
        assert_same_probabilities(run, export)
        got, expected = zoo.runtime.load(export).predict(TEXTS, top_k=2), zoo.load(run).predict(TEXTS, top_k=2)
        assert [a["label"] for a in got] == [a["label"] for a in expected]
        assert [list(a["probabilities"]) for a in got] == [list(a["probabilities"]) for a in expected]
    assert zoo.runtime.load(multiclass.parent / "export-onnx").labels == ["billing", "sales", "tech"]


@pytest.fixture
def extras_enabled(monkeypatch):
    """The example plugin (examples/zoo-extras, installed) in this process's registry."""
    from plugin_packages import FOREIGN_PLUGINS
    from zoo.plugins import get_plugins

    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", ",".join(sorted(FOREIGN_PLUGINS - {"extras"})))
    get_plugins.cache_clear()
    yield {"ZOO_PLUGINS": "zoo_extras.plugin"}
    monkeypatch.undo()
    get_plugins.cache_clear()


def test_the_example_plugins_encoder_head_and_tokenizer_export(tmp_path, extras_enabled):
    pytest.importorskip("zoo_extras", reason="examples/zoo-extras is installed in CI (.ci/run)")
    run = tiny({"type": "textcnn", "kernel_sizes": [2, 3], "channels": 4}, tmp_path, head={"type": "highway"},
               tokenizer={"type": "char-ngrams", "n_min": 2, "n_max": 3})
    result = run_zoo("export", str(run), "--out", str(tmp_path / "export"), "--json",
                     env={**extras_enabled, "ZOO_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["self_check"]["max_difference"] <= 1e-5
    assert_same_probabilities(run, tmp_path / "export")


def test_the_torch_export_format_is_a_pt2_program_with_the_runs_probabilities(tmp_path):
    run = tiny(ENCODERS["rnn, bidirectional, max, 2 layers"], tmp_path)
    export = exported(run, tmp_path, "torch")
    assert (export / "model.pt2").is_file() and not (export / "model.onnx").exists()
    assert json.loads((export / "export.json").read_text())["engine"] == "torch.export"
    expected = zoo.load(run).probabilities(TEXTS)
    assert np.abs(zoo.runtime.load(export, trust_program=True).probabilities(TEXTS) - expected).max() <= 1e-5
    refused = run_zoo("predict", str(export), "zapfy")  # torch reads a .pt2 partly with pickle: only if trusted
    assert refused.returncode == 2 and "holds a torch.export program (model.pt2)" in refused.stderr.decode()
    trusted = run_zoo("predict", str(export), "zapfy", "--trust-program", "--json")
    assert trusted.returncode == 0, trusted.stderr.decode()


@pytest.fixture(scope="module")
def export_of_tiny(tiny_run, tmp_path_factory) -> Path:
    """An ONNX export of the suite's tiny run (copy it before changing it)."""
    return exported(tiny_run, tmp_path_factory.mktemp("export"))


def test_predict_on_an_export_or_a_pack_answers_as_on_the_run(tiny_run, export_of_tiny, tmp_path):
    env = {"ZOO_CACHE_DIR": str(tiny_run.parent / "cache")}
    on_run = json.loads(run_zoo("predict", str(tiny_run), *TEXTS, "--json", env=env).stdout)
    on_export = json.loads(run_zoo("predict", str(export_of_tiny), *TEXTS, "--json").stdout)
    packed = run_zoo("pack", str(export_of_tiny), "-o", str(tmp_path / "model.zip"), env=env)
    assert packed.returncode == 0, packed.stderr.decode()
    on_pack = json.loads(run_zoo("predict", str(tmp_path / "model.zip"), *TEXTS, "--json").stdout)
    assert [a["label"] for a in on_export] == [a["label"] for a in on_run] == [a["label"] for a in on_pack]
    assert [a["probability"] for a in on_export] == pytest.approx([a["probability"] for a in on_run], abs=1e-5)
    assert zoo.load(tmp_path / "model.zip").predict(TEXTS) == zoo.load(tiny_run).predict(TEXTS)
    assert zoo.runtime.load(tmp_path / "model.zip").predict(TEXTS) == [
        {k: v for k, v in answer.items() if k != "text"} for answer in on_pack]


@pytest.mark.parametrize("texts, top_k, message", [
    ("zapfy", None, r"texts must be a list of strings, not one str; for a single text, pass \[text\]"),
    (["zapfy"], 0, "top_k must be a whole number of at least 1, not 0"),
    (["zapfy"], -1, "top_k must be a whole number of at least 1, not -1"),
    (["zapfy"], True, "top_k must be a whole number of at least 1, not True"),
    (["zapfy"], "2", "top_k must be a whole number of at least 1, not '2'"),
])
def test_predict_refuses_a_bare_string_and_a_top_k_below_one(tiny_run, export_of_tiny, texts, top_k, message):
    """A str is a sequence of one-character texts and top_k=0 used to mean 1: both were silently
    answered (a prediction per character; one label) by the run's and the export's predict."""
    for model in (zoo.load(tiny_run), zoo.runtime.load(export_of_tiny)):
        with pytest.raises(ZooError, match=message):
            model.predict(texts, top_k=top_k)


@pytest.mark.parametrize("option, message", [
    ({"threads": 0}, "threads must be a whole number of at least 1 (or None: one per core), not 0"),
    ({"threads": -1}, "threads must be a whole number of at least 1"),
    ({"batch_size": 0}, "batch_size must be a whole number of at least 1, not 0"),
    ({"trust_program": "no"}, "trust_program must be True or False, not 'no'"),
])
def test_runtime_load_refuses_options_it_would_misread(export_of_tiny, option, message):
    """threads=0 was the default, batch_size=0 a ValueError at the first prediction, and
    trust_program="no" true: a torch.export program would have been loaded."""
    with pytest.raises(ZooError, match=re.escape(message)):
        zoo.runtime.load(export_of_tiny, **option)


def test_zoo_pack_of_a_run_exports_it_on_the_way(tiny_run, tmp_path):
    env = {"ZOO_CACHE_DIR": str(tiny_run.parent / "cache")}
    result = run_zoo("pack", str(tiny_run), "-o", str(tmp_path / "run.zip"), env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert "self-check: 24 texts of the run's test split and 75 made-up texts" in result.stderr.decode()
    assert zoo.runtime.load(tmp_path / "run.zip").predict(["zapfy"])[0]["label"] == zoo.load(tiny_run).predict(["zapfy"])[0]["label"]
    again = run_zoo("pack", str(tiny_run), "-o", str(tmp_path / "run.zip"), env=env)
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr.decode()


def test_an_export_that_differs_from_the_run_is_refused_and_nothing_is_written(tiny_run, export_of_tiny, tmp_path,
                                                                               monkeypatch, data_cache):
    """The self-check compares probabilities: a model off by a little is refused, and an export
    already at --out stays as it was."""
    import torch

    from zoo.export import folder, formats

    original = formats.to_onnx

    def slightly_off(model):
        off = __import__("copy").deepcopy(model)
        with torch.no_grad():
            off.head[-1].bias += 1e-3
        return original(off)

    monkeypatch.setattr(formats, "to_onnx", slightly_off)
    with pytest.raises(ZooError, match=r"probabilities differ from the run's by up to .* the export is refused"):
        folder.export(tiny_run, tmp_path / "new")
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # the token cache alone: no export, no leftover
    kept = shutil.copytree(export_of_tiny, tmp_path / "kept")
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    with pytest.raises(ZooError, match="the export is refused"):
        folder.export(tiny_run, kept, force=True)
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before


def test_export_refuses_an_out_that_is_not_its_own(tiny_run, export_of_tiny, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    (tmp_path / "export").mkdir()
    for name in ("export.json", "notes.txt"):  # an export folder a user put a file of theirs into
        (tmp_path / "export" / name).write_text("{}")
    for out, expected in [(tmp_path / "mine", "holds files that are not a zoo export (notes.txt)"),
                          (tmp_path / "export", "holds files that are not a zoo export (notes.txt)"),
                          (export_of_tiny, "already holds an export; pass --force"),
                          (tiny_run / "exported", "is inside the run")]:
        result = run_zoo("export", str(tiny_run), "--out", str(out))
        assert result.returncode == 2 and expected in result.stderr.decode(), result.stderr.decode()
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine" and (tmp_path / "export" / "notes.txt").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where nothing can be created")
def test_an_out_the_os_refuses_is_one_line_naming_it(tiny_run):
    """The export is staged in a hidden sibling of --out; the OS refusing that sibling was a traceback."""
    result = run_zoo("export", str(tiny_run), "--out", "/proc/zoo-export")
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1] == "error: cannot use /proc/zoo-export (--out): No such file or directory: " \
                                      "/proc/zoo-export", stderr


def test_a_tampered_export_is_one_clear_line(export_of_tiny, tmp_path):
    from safetensors.numpy import load, save

    def tampered(name: str, change) -> Path:
        copy = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(export_of_tiny, copy)
        change(copy / name)
        return copy

    def reshape(path: Path) -> None:
        tensors = load(path.read_bytes())
        tensors["embedding.weight"] = np.zeros((3, 2), dtype=np.float32)
        path.write_bytes(save(tensors))

    wrong_shape = tampered("model.safetensors", reshape)
    with pytest.raises(ZooError, match=r"model.safetensors: model.embedding.weight has shape \(3, 2\), but the run's "
                                       r"spec.yaml and vocab.json give \(\d+, 4\)"):
        zoo.load(wrong_shape)
    cases = [
        ("model.onnx", lambda p: p.write_bytes(b"not a model"), "ONNX Runtime cannot load it"),
        ("model.onnx", lambda p: p.write_bytes(external_data_model(p.parent.parent / "secret.bin")),
         "its weights are in other files (ONNX external data)"),
        ("export.json", lambda p: p.write_text(p.read_text().replace('"model.onnx"', '"model.pt2"')),
         "engine onnx runs model.onnx, not model.pt2"),
        ("export.json", lambda p: p.write_text(p.read_text().replace('"max_length": null', '"max_length": 0')),
         "export.json: max_length: Input should be greater than 0"),
        ("labels.json", lambda p: p.write_text('{"type": "binary", "labels": ["a"]}'), "labels.json: labels"),
        ("tokenizer.json", lambda p: p.write_text('{"type": "gone"}'), "this export needs tokenizer 'gone'"),
        ("tokenizer.json", lambda p: p.write_text('{"type": "words", "emoticons": "maybe"}'),
         "tokenizer.json: emoticons: Input should be a valid boolean"),
        ("vocab.json", lambda p: p.unlink(), "vocab.json does not exist"),
    ]
    for name, change, expected in cases:
        folder = tampered(name, change)
        result = run_zoo("predict", str(folder), "zapfy")
        stderr = result.stderr.decode()
        assert result.returncode == 2 and expected in stderr and "Traceback" not in stderr, stderr
        assert stderr.count("\n") == 1, stderr


def external_data_model(secret: Path, location: str | None = None) -> bytes:
    """An ONNX model whose weight is to be read from the file ``secret`` (external data), named
    ``location`` in the model (default: its absolute path)."""
    from onnx import TensorProto, helper

    secret.write_bytes(b"secret!!")
    weight = TensorProto(name="W", data_type=TensorProto.UINT8, dims=[8], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location or str(secret)), ("offset", "0"), ("length", "8")):
        weight.external_data.add(key=key, value=value)
    vector = [helper.make_tensor_value_info(name, TensorProto.UINT8, [8]) for name in ("ids", "logits")]
    graph = helper.make_graph([helper.make_node("Add", ["ids", "W"], ["logits"])], "g", vector[:1], vector[1:], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


def test_a_received_onnx_model_cannot_read_a_file_of_the_folder_zoo_runs_in(export_of_tiny, tmp_path):
    """ONNX Runtime resolves the external data of a model given as bytes against the current
    folder: a crafted model.onnx naming ``secret.bin`` would load the user's file as its weights."""
    received = tmp_path / "received"
    shutil.copytree(export_of_tiny, received)
    (received / "model.onnx").write_bytes(external_data_model(tmp_path / "secret.bin", location="secret.bin"))
    result = run_zoo("predict", "received", "zapfy", cwd=tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in stderr, stderr
    assert "model.onnx: its weights are in other files (ONNX external data); a zoo export keeps them in " \
           "model.onnx, so it is refused" in stderr, stderr


def test_the_runtime_imports_no_torch_for_an_onnx_export(export_of_tiny):
    code = ("import sys, zoo.runtime; m = zoo.runtime.load(sys.argv[1]); m.predict(['zapfy', '']);"
            "print(sorted(n for n in ('torch', 'pandas', 'matplotlib') if n in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(export_of_tiny)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
