"""examples/zoo-extras installed the way a stranger installs it (pip, a real dist-info with entry
points), then used through the CLI and from Python: list, show, schema, validate, plugins, train,
evaluate, predict, zoo.load; plus the CNN encoder's padding invariance and the package's own tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_packages import plugin_env, run_zoo
from zoo.testing import NEGATIVE_WORDS, POSITIVE_WORDS, write_imdb_folder

EXTRAS = Path(__file__).resolve().parents[1] / "examples" / "zoo-extras"
COMPONENTS = [("tokenizer", "char-ngrams"), ("encoder", "textcnn"), ("head", "highway")]


@pytest.fixture(scope="module")
def extras(tmp_path_factory) -> tuple[Path, Path]:
    """``(site, source)``: zoo-extras pip-installed into ``site`` from a clean copy ``source``.

    The copy keeps pip's in-tree build files (build/, *.egg-info) out of the repository.
    ``--no-build-isolation`` builds with the setuptools already installed and ``--no-deps``
    skips zoo itself, so nothing is downloaded.
    """
    root = tmp_path_factory.mktemp("extras")
    source = root / "zoo-extras"
    shutil.copytree(EXTRAS, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*"))
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    return site, source


def test_pip_installs_a_real_distribution_with_a_zoo_entry_point(extras):
    site, _ = extras
    [info] = site.glob("zoo_extras-0.1.0.dist-info")
    assert "Name: zoo-extras" in (info / "METADATA").read_text()
    assert "Requires-Dist: rnn-zoo[train]<0.2,>=0.1" in (info / "METADATA").read_text()
    assert (info / "entry_points.txt").read_text().split() == ["[zoo]", "extras", "=", "zoo_extras.plugin"]


def test_zoo_list_shows_its_components_with_distribution_and_version(extras):
    site, _ = extras
    result = run_zoo("list", "--json", site=site)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    for key in COMPONENTS:
        assert (rows[key]["plugin"], rows[key]["distribution"], rows[key]["version"]) == ("extras", "zoo-extras", "0.1.0")
    assert rows[("encoder", "lstm")]["distribution"] == "rnn-zoo"  # the built-ins are all still there
    table = run_zoo("list", "--kind", "encoder", site=site).stdout.decode()
    assert "textcnn" in table and "zoo-extras 0.1.0" in table


def test_registration_does_not_import_torch(extras):
    site, _ = extras
    code = "import sys, zoo.plugins; r = zoo.plugins.get_registry(); r.get('encoder', 'textcnn'); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=plugin_env(site), check=True)
    assert result.stdout.strip() == b"False"


def test_zoo_plugins_reports_version_hooks_and_components(extras):
    site, _ = extras
    plugins = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json", site=site).stdout)}
    assert plugins["extras"] == {
        "name": "extras", "distribution": "zoo-extras", "version": "0.1.0", "builtin": False,
        "hooks": ["register_components"],
        "components": ["tokenizer/char-ngrams", "encoder/textcnn", "head/highway"], "error": None,
        "disabled": False,
    }
    table = run_zoo("plugins", site=site).stdout.decode()
    assert "extras" in table and "zoo-extras 0.1.0" in table and "ok" in table


def test_show_schema_and_validate_know_its_fields(extras, tmp_path):
    site, _ = extras
    shown = json.loads(run_zoo("show", "textcnn", "--json", site=site).stdout)
    fields = {f["field"]: f for f in shown["fields"]}
    assert set(fields) == {"kernel_sizes", "channels", "activation", "dropout"}
    assert fields["kernel_sizes"]["default"] == [3, 4, 5] and fields["kernel_sizes"]["description"]
    assert {f["field"] for f in json.loads(run_zoo("show", "highway", "--json", site=site).stdout)["fields"]} == {
        "layers", "activation", "gate_bias", "dropout"}
    assert "n_min" in run_zoo("show", "char-ngrams", site=site).stdout.decode()

    defs = json.loads(run_zoo("schema", site=site).stdout)["$defs"]
    assert {"TextcnnEncoderSpec", "HighwayHeadSpec", "CharNgramsTokenizerSpec"} <= set(defs)
    assert defs["TextcnnEncoderSpec"]["additionalProperties"] is False

    spec = tmp_path / "spec.yaml"
    spec.write_text("tokenizer: {type: char-ngrams, n_min: 4, n_max: 3}\n"
                    "model:\n  encoder: {type: textcnn, channels: 0, kernel_size: 3}\n  head: {type: highway, layers: 9}\n")
    bad = run_zoo("validate", str(spec), site=site)
    assert bad.returncode == 2
    stderr = bad.stderr.decode()
    assert "tokenizer: n_min (4) must not exceed n_max (3)" in stderr
    assert "model.encoder.channels: Input should be greater than 0" in stderr
    assert "model.encoder.kernel_size: unknown field; did you mean 'kernel_sizes'?" in stderr
    assert "model.head.layers: Input should be less than or equal to 8" in stderr
    assert "Traceback" not in stderr
    spec.write_text("tokenizer: char-ngrams\nmodel: {encoder: textcnn, head: highway}\n")
    good = run_zoo("validate", str(spec), site=site)
    assert good.returncode == 0, good.stderr.decode()
    assert "tokenizer char-ngrams" in good.stdout.decode() and "encoder textcnn, head highway" in good.stdout.decode()
    # without the plugin (disabled, as it may be installed for real, as in CI), it is unknown
    without = run_zoo("validate", str(spec), env={"ZOO_DISABLE_PLUGINS": "extras"})
    assert "unknown encoder 'textcnn'" in without.stderr.decode()


SPEC = """\
name: extras-smoke
tokenizer: {type: char-ngrams, n_min: 3, n_max: 4}
data:
  dataset: {type: imdb, valid_size: 40}
model:
  embedding: {dim: 8}
  encoder: {type: textcnn, kernel_sizes: [2, 3], channels: 8}
  head: {type: highway, layers: 1}
train: {epochs: 2, batch_size: 16, optimizer: {lr: 0.01}}
"""


def test_a_spec_using_all_three_trains_evaluates_predicts_and_reloads(extras, tmp_path):
    site, _ = extras
    data = write_imdb_folder(tmp_path / "data", per_label=60)
    env = {"ZOO_IMDB_SOURCE": str(data), "ZOO_CACHE_DIR": str(tmp_path / "cache")}
    spec = tmp_path / "extras.yaml"
    spec.write_text(SPEC)
    run = tmp_path / "run"
    trained = run_zoo("train", str(spec), "--out", str(run), "--json", site=site, env=env)
    assert trained.returncode == 0, trained.stderr.decode()
    summary = json.loads(trained.stdout)
    assert summary["epochs_run"] == 2
    components = json.loads((run / "run.json").read_text())["components"]
    for kind, name in COMPONENTS:
        assert components[f"{kind}/{name}"] == {"plugin": "extras", "distribution": "zoo-extras", "version": "0.1.0"}

    evaluated = run_zoo("evaluate", str(run), "--json", site=site, env=env)
    assert evaluated.returncode == 0, evaluated.stderr.decode()
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(summary["test"]["accuracy"])

    texts = [" ".join(POSITIVE_WORDS[:3]), " ".join(NEGATIVE_WORDS[:3]), ""]
    predicted = run_zoo("predict", str(run), *texts, "--json", site=site, env=env)
    assert predicted.returncode == 0, predicted.stderr.decode()
    assert [a["label"] for a in json.loads(predicted.stdout)][:2] == ["pos", "neg"]

    code = ("import json, sys, zoo; c = zoo.load(sys.argv[1]); "
            "print(json.dumps([c.spec.model.encoder.type, c.spec.model.head.type, c.spec.tokenizer.type, "
            "c.predict(sys.argv[2:])]))")
    loaded = subprocess.run([sys.executable, "-c", code, str(run), *texts[:2]], capture_output=True,
                            env=plugin_env(site, env))
    assert loaded.returncode == 0, loaded.stderr.decode()
    encoder, head, tokenizer, answers = json.loads(loaded.stdout)
    assert (encoder, head, tokenizer) == ("textcnn", "highway", "char-ngrams")
    assert [a["label"] for a in answers] == ["pos", "neg"]

    gone = run_zoo("predict", str(run), "hello", env={"ZOO_DISABLE_PLUGINS": "extras"})  # named, no traceback
    assert gone.returncode == 2
    assert "from plugin extras (distribution zoo-extras 0.1.0), which is disabled by ZOO_DISABLE_PLUGINS" in gone.stderr.decode()


# --- the CNN encoder in this process ----------------------------------------------------------


@pytest.fixture
def extras_registry(extras, monkeypatch):
    """A private registry holding only zoo-extras' components (the process-wide one is untouched)."""
    from zoo.registry import Registry

    monkeypatch.syspath_prepend(str(extras[0]))
    from zoo_extras import plugin

    registry = Registry()
    plugin.register_components(registry)
    return registry


def test_textcnn_is_padding_invariant(extras_registry):
    import torch

    from zoo.testing import check_encoder

    torch.manual_seed(0)
    encoder = extras_registry.build("encoder", {"type": "textcnn", "kernel_sizes": [1, 3, 6], "channels": 5},
                                    input_size=4).eval()
    assert encoder.output_size == 15
    lengths = torch.tensor([1, 2, 5, 9])
    x = torch.randn(4, 9, 4)
    out = encoder(x, lengths)
    for row, length in enumerate(lengths.tolist()):
        alone = encoder(x[row : row + 1, :length], lengths[row : row + 1])
        torch.testing.assert_close(alone[0], out[row], rtol=1e-5, atol=1e-6)
        noisy = torch.cat([x[row : row + 1, :length], 100 * torch.randn(1, 20, 4)], dim=1)
        torch.testing.assert_close(encoder(noisy, lengths[row : row + 1])[0], out[row], rtol=1e-5, atol=1e-6)
    check_encoder(encoder, input_size=4)
    check_encoder({"type": "textcnn", "kernel_sizes": [2, 4], "channels": 3, "dropout": 0.3}, input_size=6,
                  registry=extras_registry)


def test_textcnn_matches_a_hand_computed_wide_convolution(extras_registry):
    """One bank of width 2, one filter: max over the windows touching a real token (zeros outside)."""
    import torch

    encoder = extras_registry.build("encoder", {"type": "textcnn", "kernel_sizes": [2], "channels": 1,
                                                "activation": "tanh"}, input_size=2).eval()
    conv = encoder.convs[0]
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[0.5, -1.0], [2.0, 0.25]]]))  # (out, in, k)
        conv.bias.fill_(0.1)
    review = torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 1.0]])  # 3 tokens
    padded = torch.cat([review, torch.full((2, 2), 7.0)])[None]
    w, b = conv.weight[0], conv.bias[0]
    zero = torch.zeros(2)
    tokens = [zero, *review, zero]  # the window j reads tokens j-1 and j (wide convolution)
    windows = [torch.tanh(w[:, 0] @ tokens[j] + w[:, 1] @ tokens[j + 1] + b) for j in range(len(tokens) - 1)]
    expected = torch.stack(windows).max()
    torch.testing.assert_close(encoder(padded, torch.tensor([3]))[0, 0], expected)


def test_the_packages_own_tests_pass_against_the_installed_distribution(extras):
    """Its tests (which use zoo.testing) run from its source copy against the installed package."""
    site, source = extras
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=source, capture_output=True, env=plugin_env(site), timeout=300,
    )
    assert result.returncode == 0, result.stdout.decode()[-3000:] + result.stderr.decode()[-2000:]
