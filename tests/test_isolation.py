"""The suite passes next to installed zoo plugins it did not ask for (see plugin_packages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from plugin_packages import CNN_PLUGIN, make_distribution, plugin_env

#: Everything an installed plugin can do to a test: clash with the tests' component names, replace
#: a built-in, print into JSON output, add a file to every run directory.
NASTY = CNN_PLUGIN.replace(
    'registry.register("encoder", "bag", config=BagConfig, factory=build_bag)',
    """for kind, name in [("encoder", "bag"), ("encoder", "textcnn"), ("head", "highway")]:
        registry.register(kind, name, config=BagConfig, factory=build_bag)
    registry.register("tokenizer", "words", config=BagConfig, factory=build_bag, override=True)""",
) + '''
print("nasty: imported")


@hookimpl
def on_run_start(run):
    print("nasty: a run starts")
    (run.dir / "nasty.txt").write_text("not zoo's")
'''

#: Tests that fail with NASTY installed unless the suite isolates itself.
REPRESENTATIVE = [
    "tests/test_plugins.py::test_third_party_component_is_listed_with_its_distribution_and_validated",
    "tests/test_plugins.py::test_two_plugins_registering_one_name_are_named_both",
    "tests/test_cli.py::test_list_table_and_json",
    "tests/test_testing.py::test_smoke_train_trains_the_dataset_the_spec_names",
]


def test_the_suite_ignores_installed_plugins_it_did_not_ask_for(tmp_path):
    site = make_distribution(tmp_path / "site", "zoo-nasty", "6.6.6", {"zoo_nasty": NASTY, "zoo_gone": "import no_such_module"},
                             {"nasty": "zoo_nasty", "gone": "zoo_gone"})
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *REPRESENTATIVE],
        cwd=root, capture_output=True, timeout=600,
        env={**plugin_env(), "PYTHONPATH": str(site), "ZOO_DISABLE_PLUGINS": ""},  # as a user's environment
    )
    assert result.returncode == 0, result.stdout.decode()[-4000:]
