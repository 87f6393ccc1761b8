"""Plugins through the real entry-point machinery: discovery, origin, isolation, conflicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_packages import CNN_PLUGIN, make_distribution, plugin_env, run_zoo


def components(result) -> dict[tuple[str, str], dict]:
    assert result.returncode == 0, result.stderr.decode()
    return {(row["kind"], row["name"]): row for row in json.loads(result.stdout)}


def test_builtins_come_through_the_entry_point_group():
    rows = components(run_zoo("list", "--json"))
    for key in [("tokenizer", "words"), ("tokenizer", "whitespace"), ("encoder", "rnn"),
                ("encoder", "gru"), ("encoder", "lstm"), ("head", "mlp"), ("head", "linear")]:
        assert rows[key]["distribution"] == "rnn-zoo"
        assert rows[key]["plugin"].startswith("builtin-")


def test_third_party_component_is_listed_with_its_distribution_and_validated(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-bag", "1.2.3", {"zoo_bag": CNN_PLUGIN},
                             {"bag": "zoo_bag"})
    row = components(run_zoo("list", "--json", site=site))[("encoder", "bag")]
    assert (row["plugin"], row["distribution"], row["version"]) == ("bag", "zoo-bag", "1.2.3")
    assert row["description"] == "Mean of embeddings (a test encoder)."

    shown = run_zoo("show", "bag", "--json", site=site)
    assert json.loads(shown.stdout)["fields"][0]["field"] == "scale"

    schema = json.loads(run_zoo("schema", site=site).stdout)
    assert "BagEncoderSpec" in schema["$defs"]

    spec = tmp_path / "spec.yaml"
    spec.write_text("model:\n  encoder: {type: bag, scale: -1}\n")
    bad = run_zoo("validate", str(spec), site=site)
    assert bad.returncode == 2
    assert b"model.encoder.scale: Input should be greater than 0" in bad.stderr
    spec.write_text("model:\n  encoder: {type: bag, scale: 2}\n")
    assert run_zoo("validate", str(spec), site=site).returncode == 0


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_works(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-broken", "0.1", {"zoo_broken": "raise ImportError('no numpy 3')"},
                             {"broken": "zoo_broken"})
    result = run_zoo("list", "--json", site=site)
    assert ("encoder", "lstm") in components(result)
    assert b"plugin broken: failed to load: ImportError: no numpy 3" in result.stderr
    plugins = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json", site=site).stdout)}
    assert "no numpy 3" in plugins["broken"]["error"]

    strict = run_zoo("list", site=site, env={"ZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2
    assert b"ZOO_STRICT_PLUGINS" in strict.stderr and b"Traceback" not in strict.stderr

    disabled = run_zoo("list", site=site, env={"ZOO_DISABLE_PLUGINS": "broken"})
    assert disabled.returncode == 0 and b"broken" not in disabled.stderr


@pytest.mark.parametrize("source, error", [
    ("import sys\nsys.exit(3)\n", "plugin quitter: failed to load: SystemExit: 3"),
    ("from zoo import hookimpl\n\n@hookimpl\ndef register_components(registry):\n    raise SystemExit('bye')\n",
     "plugin quitter: register_components failed: SystemExit: bye"),
])
def test_a_plugin_calling_sys_exit_is_isolated_not_the_end_of_zoo(tmp_path, source, error):
    """A module that parses its own command line at import (or calls sys.exit) ended every command."""
    site = make_distribution(tmp_path / "site", "zoo-quitter", "0.1", {"zoo_quitter": source},
                             {"quitter": "zoo_quitter"})
    result = run_zoo("list", "--json", site=site)
    assert ("encoder", "lstm") in components(result)
    assert error.encode() in result.stderr


def test_naming_an_installed_plugins_module_with_p_loads_it_once_without_a_warning(tmp_path):
    """docs/plugins.md: install the package, and during development also ``zoo -p zoo_bag.plugin``."""
    site = make_distribution(tmp_path / "site", "zoo-dev", "0.1", {"zoo_dev": CNN_PLUGIN}, {"dev": "zoo_dev"})
    result = run_zoo("-p", "zoo_dev", "list", "--json", site=site)
    assert components(result)[("encoder", "bag")]["plugin"] == "dev"
    assert b"warning" not in result.stderr, result.stderr.decode()


def test_a_module_named_both_in_zoo_plugins_and_with_p_is_one_plugin(tmp_path):
    site = make_distribution(tmp_path / "site", "unused", "0.1", {"devplug_twice": CNN_PLUGIN}, {})
    result = run_zoo("-p", "devplug_twice", "list", "--json", site=site, env={"ZOO_PLUGINS": "devplug_twice"})
    assert components(result)[("encoder", "bag")]["plugin"] == "devplug_twice"
    assert b"warning" not in result.stderr, result.stderr.decode()


def test_a_misspelt_hook_is_a_load_failure_naming_the_plugin_and_the_hook(tmp_path):
    """pluggy keeps a @hookimpl with no specification silently: a misspelt hook never runs."""
    source = "from zoo import hookimpl\n\n@hookimpl\ndef on_epoch_ends(run, epoch):\n    pass\n"
    site = make_distribution(tmp_path / "site", "zoo-typo", "0.1", {"zoo_typo": source}, {"typo": "zoo_typo"})
    result = run_zoo("list", "--json", site=site)
    assert ("encoder", "lstm") in components(result)
    assert (b"plugin typo: failed to load: @hookimpl on_epoch_ends is not a zoo hook (did you mean on_epoch_end?)"
            in result.stderr)
    plugins = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json", site=site).stdout)}
    assert "on_epoch_ends is not a zoo hook" in plugins["typo"]["error"]


def test_a_spec_needing_a_broken_plugins_component_names_the_plugin(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-broken", "0.1", {"zoo_broken": "raise RuntimeError('boom')"},
                             {"broken": "zoo_broken"})
    spec = tmp_path / "spec.yaml"
    spec.write_text("model:\n  encoder: cnn\n")
    result = run_zoo("validate", str(spec), site=site)
    assert result.returncode == 2
    assert b"unknown encoder 'cnn'" in result.stderr
    assert b"plugins that failed to load, which may provide it: broken: failed to load: RuntimeError: boom" in result.stderr


def test_a_plugin_whose_registration_raises_is_isolated(tmp_path):
    source = CNN_PLUGIN.replace(
        'registry.register("encoder", "bag", config=BagConfig, factory=build_bag)',
        'registry.register("encoder", "bag", config=BagConfig, factory=build_bag)\n    raise ValueError("half-way")',
    )
    site = make_distribution(tmp_path / "site", "zoo-half", "0.1", {"zoo_half": source}, {"half": "zoo_half"})
    result = run_zoo("list", "--json", site=site)
    rows = components(result)
    assert ("encoder", "bag") not in rows  # its partial registration is undone
    assert b"register_components failed: ValueError: half-way" in result.stderr


def test_two_plugins_registering_one_name_are_named_both(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-bag", "1.0", {"zoo_bag": CNN_PLUGIN}, {"bag": "zoo_bag"})
    make_distribution(site, "zoo-bag-too", "2.0", {"zoo_bag_too": CNN_PLUGIN}, {"bag-too": "zoo_bag_too"})
    result = run_zoo("plugins", "--json", site=site)
    errors = [p["error"] for p in json.loads(result.stdout) if p["error"]]
    assert len(errors) == 1
    assert "encoder 'bag' is registered twice: by plugin bag (zoo-bag 1.0) and by plugin bag-too (zoo-bag-too 2.0)" in errors[0]


def test_a_plugin_shadowing_a_builtin_needs_override(tmp_path):
    shadow = CNN_PLUGIN.replace('"encoder", "bag"', '"encoder", "lstm"')
    site = make_distribution(tmp_path / "site", "zoo-shadow", "1.0", {"zoo_shadow": shadow}, {"shadow": "zoo_shadow"})
    result = run_zoo("list", "--json", site=site)
    assert components(result)[("encoder", "lstm")]["distribution"] == "rnn-zoo"
    assert b"encoder 'lstm' is registered twice" in result.stderr

    overriding = shadow.replace("factory=build_bag)", "factory=build_bag, override=True)")
    site2 = make_distribution(tmp_path / "site2", "zoo-shadow", "1.0", {"zoo_shadow": overriding}, {"shadow": "zoo_shadow"})
    assert components(run_zoo("list", "--json", site=site2))[("encoder", "lstm")]["distribution"] == "zoo-shadow"


def test_duplicate_entry_point_names_are_reported_not_skipped(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-one", "1.0", {"zoo_one": CNN_PLUGIN}, {"same": "zoo_one"})
    other = CNN_PLUGIN.replace('"bag"', '"bag2"')
    make_distribution(site, "zoo-two", "1.0", {"zoo_two": other}, {"same": "zoo_two"})
    plugins = json.loads(run_zoo("plugins", "--json", site=site).stdout)
    errors = [p["error"] for p in plugins if p["error"]]
    assert errors and "plugin name 'same' is used by both" in errors[0]


def test_a_bad_config_model_is_reported(tmp_path):
    source = CNN_PLUGIN.replace("config=BagConfig", "config=dict")
    site = make_distribution(tmp_path / "site", "zoo-bad", "1.0", {"zoo_bad": source}, {"bad": "zoo_bad"})
    result = run_zoo("list", site=site)
    assert result.returncode == 0
    assert b"not a pydantic BaseModel subclass" in result.stderr


@pytest.mark.parametrize("how", ["env", "flag"])
def test_a_module_loads_as_a_plugin_without_installing(tmp_path, how):
    (tmp_path / "devplug.py").write_text(CNN_PLUGIN)
    env = {"PYTHONPATH": str(tmp_path)}
    if how == "env":
        result = run_zoo("list", "--json", env={**env, "ZOO_PLUGINS": "devplug"})
    else:
        result = run_zoo("-p", "devplug", "list", "--json", env=env)
    assert components(result)[("encoder", "bag")]["plugin"] == "devplug"
    shown = run_zoo("-p", "devplug", "show", "bag", env={**env, "COLUMNS": "200"}).stdout.decode()
    assert "encoder 'bag' from plugin devplug (not installed)" in shown


def test_an_isolated_plugin_keeps_none_of_its_lifecycle_hooks(tmp_path, monkeypatch):
    source = CNN_PLUGIN.replace(
        'registry.register("encoder", "bag", config=BagConfig, factory=build_bag)',
        'registry.register("encoder", "bag", config=BagConfig, factory=build_bag)\n    raise ValueError("half-way")',
    ) + "".join(
        f"\n\n@hookimpl\ndef {hook}():\n    raise RuntimeError('the isolated plugin ran {hook}')\n"
        for hook in ("on_run_start", "on_epoch_end", "on_checkpoint_saved", "on_run_end")
    )
    (tmp_path / "half_hooks.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    from zoo.plugins import load_plugins
    from zoo.testing import smoke_train

    plugins = load_plugins(("half_hooks",))
    [failure] = [p for p in plugins.failures() if p.info.name == "half_hooks"]
    assert "register_components failed: ValueError: half-way" in failure.error
    tiny = {"model": {"embedding": {"dim": 4}, "encoder": {"type": "gru", "hidden_size": 4}, "head": "linear"}}
    assert smoke_train(tiny, tmp_path / "smoke", per_label=8, plugins=plugins)["epochs_run"] == 1


@pytest.mark.parametrize("how", ["env", "flag"])
def test_the_console_script_finds_a_plugin_module_in_the_current_folder(tmp_path, how):
    """``zoo -p MODULE`` from MODULE's folder, as ``python -m`` would find it (no PYTHONPATH)."""
    script = Path(sys.executable).with_name("zoo")
    if not script.exists():
        pytest.skip(f"the zoo console script is not installed next to {sys.executable}")
    (tmp_path / "devplug_here.py").write_text(CNN_PLUGIN)
    env = plugin_env(env={"ZOO_PLUGINS": "devplug_here"} if how == "env" else {})
    env.pop("PYTHONPATH", None)
    args = ["list", "--json"] if how == "env" else ["-p", "devplug_here", "list", "--json"]
    result = subprocess.run([str(script), *args], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert components(result)[("encoder", "bag")]["plugin"] == "devplug_here"


NOISY_PLUGIN = '''
import os
import subprocess
import sys

from zoo import hookimpl

print("noisy: imported")


@hookimpl
def register_components(registry):
    print("noisy: registering")


@hookimpl
def on_epoch_end(epoch):
    print(f"noisy: epoch {epoch}")
    os.write(1, b"noisy: straight to file descriptor 1\\\\n")
    subprocess.run([sys.executable, "-c", "print('noisy: from a child process')"], check=True)
'''


def test_printing_plugins_cannot_corrupt_json_output(tmp_path):
    from zoo.testing import write_imdb_folder

    site = make_distribution(tmp_path / "site", "zoo-noisy", "1.0", {"zoo_noisy": NOISY_PLUGIN}, {"noisy": "zoo_noisy"})
    listed = run_zoo("list", "--json", site=site)
    assert ("encoder", "lstm") in components(listed)  # parses: the prints went elsewhere
    assert b"noisy: imported" in listed.stderr and b"noisy: registering" in listed.stderr
    assert json.loads(run_zoo("schema", site=site).stdout)["title"] == "Spec"

    spec = tmp_path / "tiny.yaml"
    spec.write_text("data: {dataset: {type: imdb, valid_size: 6}}\n"
                    "model: {embedding: {dim: 4}, encoder: {type: gru, hidden_size: 4}, head: linear}\n"
                    "train: {epochs: 2, batch_size: 8}\n")
    env = {"ZOO_IMDB_SOURCE": str(write_imdb_folder(tmp_path / "data", per_label=8)),
           "ZOO_CACHE_DIR": str(tmp_path / "cache")}
    trained = run_zoo("train", str(spec), "--out", str(tmp_path / "run"), "--json", site=site, env=env)
    assert trained.returncode == 0, trained.stderr.decode()
    assert json.loads(trained.stdout)["epochs_run"] == 2
    for line in (b"noisy: epoch 2", b"noisy: straight to file descriptor 1", b"noisy: from a child process"):
        assert line in trained.stderr


# A plugin written from the README alone: string factories (never imported here) and no
# description, one component of every kind; importing it leaves a mark on stderr.
TOYS_PLUGIN = '''
import sys
from pydantic import BaseModel, ConfigDict
from zoo import hookimpl

sys.stderr.write("toys imported\\n")


class ToyConfig(BaseModel):
    """A toy component for tests.

    More text that is not the description.
    """

    model_config = ConfigDict(extra="forbid")


class Undocumented(BaseModel):
    model_config = ConfigDict(extra="forbid")


@hookimpl
def register_components(registry):
    registry.register("tokenizer", "bigrams", config=ToyConfig, factory="zoo_toys_impl:tokenizer")
    registry.register("dataset", "toyset", config=ToyConfig, factory="zoo_toys_impl:dataset")
    registry.register("encoder", "bag", config=ToyConfig, factory="zoo_toys_impl:encoder")
    registry.register("head", "toyhead", config=Undocumented, factory="zoo_toys_impl:head")
'''
TOYS_SPEC = "tokenizer: bigrams\ndata: {dataset: toyset}\nmodel: {encoder: bag, head: toyhead}\n"


@pytest.fixture
def toys(tmp_path) -> Path:
    return make_distribution(tmp_path / "site", "zoo-toys", "1.0", {"zoo_toys": TOYS_PLUGIN}, {"toys": "zoo_toys"})


def test_a_string_factory_is_described_by_its_config_docstring_not_by_str(toys):
    rows = components(run_zoo("list", "--json", site=toys))
    assert rows[("encoder", "bag")]["description"] == "A toy component for tests."
    assert rows[("head", "toyhead")]["description"] == ""  # no docstring anywhere: nothing
    shown = run_zoo("show", "bag", site=toys).stdout.decode()
    assert "A toy component for tests." in shown and "str(object" not in shown
    assert json.loads(run_zoo("show", "toyhead", "--json", site=toys).stdout)["description"] == ""


def test_every_unknown_name_says_which_disabled_plugin_provides_it(toys, tmp_path):
    spec = tmp_path / "toys.yaml"
    spec.write_text(TOYS_SPEC)
    assert run_zoo("validate", str(spec), site=toys).returncode == 0
    result = run_zoo("validate", str(spec), site=toys, env={"ZOO_DISABLE_PLUGINS": "toys"})
    assert result.returncode == 2
    stderr = result.stderr.decode()
    for kind, name in [("tokenizer", "bigrams"), ("dataset", "toyset"), ("encoder", "bag"), ("head", "toyhead")]:
        assert f"unknown {kind} '{name}'" in stderr
    note = "plugin toys (zoo-toys 1.0) provides it but is disabled by ZOO_DISABLE_PLUGINS"
    assert stderr.count(note) == 4, stderr
    assert "Traceback" not in stderr
    shown = run_zoo("show", "toyhead", site=toys, env={"ZOO_DISABLE_PLUGINS": "toys"})
    assert shown.returncode == 2 and note in shown.stderr.decode()
    # a name it does not provide does not mention it
    spec.write_text("tokenizer: trigrams\n")
    other = run_zoo("validate", str(spec), site=toys, env={"ZOO_DISABLE_PLUGINS": "toys"}).stderr.decode()
    assert "unknown tokenizer 'trigrams'" in other and "plugin toys" not in other


def test_a_disabled_plugin_is_not_imported_by_list_and_is_shown_by_plugins(toys):
    listed = run_zoo("list", site=toys, env={"ZOO_DISABLE_PLUGINS": "toys"})
    assert listed.returncode == 0 and b"toys imported" not in listed.stderr and b"bigrams" not in listed.stdout
    rows = {p["name"]: p for p in json.loads(run_zoo("plugins", "--json", site=toys, env={"ZOO_DISABLE_PLUGINS": "toys"}).stdout)}
    assert rows["toys"]["disabled"] is True and rows["toys"]["error"] is None
    assert rows["toys"]["components"] == [] and rows["toys"]["distribution"] == "zoo-toys"


def test_a_plugin_that_failed_half_way_is_named_for_what_it_registered(tmp_path):
    source = TOYS_PLUGIN.replace("@hookimpl\ndef register_components(registry):\n",
                                 "@hookimpl\ndef register_components(registry):\n"
                                 "    registry.register('encoder', 'early', config=ToyConfig, factory='x:y')\n"
                                 "    raise ValueError('half-way')\n")
    site = make_distribution(tmp_path / "site", "zoo-half", "0.1", {"zoo_half": source}, {"half": "zoo_half"})
    spec = tmp_path / "spec.yaml"
    spec.write_text("model: {encoder: early}\n")
    stderr = run_zoo("validate", str(spec), site=site).stderr.decode()
    assert "unknown encoder 'early'; registered encoders: gru, lstm, rnn" in stderr
    assert "plugin half (zoo-half 0.1) provides it but is broken (register_components failed: ValueError: half-way" in stderr


def test_a_disabled_development_module_is_named_once_without_doubled_brackets(tmp_path):
    (tmp_path / "devplug.py").write_text(CNN_PLUGIN)
    spec = tmp_path / "spec.yaml"
    spec.write_text("model: {encoder: bag}\n")
    result = run_zoo("-p", "devplug", "validate", str(spec), env={"PYTHONPATH": str(tmp_path), "ZOO_DISABLE_PLUGINS": "devplug"})
    assert "plugin devplug (not installed) provides it but is disabled by ZOO_DISABLE_PLUGINS" in result.stderr.decode()


def test_a_type_that_is_not_a_name_is_one_message_while_a_plugin_is_disabled(toys, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("tokenizer: {type: {nested: words}}\n")
    result = run_zoo("validate", str(spec), site=toys, env={"ZOO_DISABLE_PLUGINS": "toys"})
    assert result.returncode == 2 and "Traceback" not in result.stderr.decode()
    assert "unknown tokenizer '{'nested': 'words'}'" in result.stderr.decode()
