"""zoo's distribution name: a free one on the package index, used by every install message.

The import package and the ``zoo`` command keep their name; only what ``pip install`` is told
changes. ``zoo`` on the public index is an unrelated project, so no message may say
``pip install 'zoo[...]'`` or depend on ``zoo>=``.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import zoo
from plugin_packages import run_zoo

ROOT = Path(__file__).resolve().parent.parent
#: An install command or dependency naming the taken ``zoo`` distribution.
TAKEN = re.compile(r"""pip install ['"]?zoo(\[|['"\s]|$)|["']zoo\s*(>=|==|~=|<|>|\[)|Requires-Dist: zoo\b""")


def test_the_distribution_is_not_the_taken_name_and_pyproject_uses_it():
    assert zoo.DISTRIBUTION == "rnn-zoo"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == zoo.DISTRIBUTION
    assert project["scripts"] == {"zoo": "zoo.cli:main"}  # the command keeps its name
    assert "zoo" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]


def test_version_comes_from_one_place():
    assert version(zoo.DISTRIBUTION) == zoo.__version__
    assert run_zoo("--version").stdout.decode().strip() == f"zoo {zoo.__version__}"


def test_install_hint_names_the_distribution_and_the_extra():
    assert zoo.install_hint("tensorboard") == "pip install 'rnn-zoo[tensorboard]'"
    assert zoo.install_hint() == "pip install rnn-zoo"


def test_no_file_tells_pip_to_install_the_taken_name():
    suffixes = {".py", ".md", ".toml", ".yaml", ".sh", ".txt", ".cfg"}
    files = [p for folder in ("zoo", "plugins", "docs", "benchmarks", "examples", "tests", ".ci")
             for p in (ROOT / folder).rglob("*") if p.is_file() and (p.suffix in suffixes or p.name == "run")
             and "build" not in p.relative_to(ROOT).parts and "egg-info" not in str(p)]
    files += [ROOT / "README.md", ROOT / "pyproject.toml"]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in files if p != Path(__file__)
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if TAKEN.search(line)]
    assert offenders == []


def test_the_example_plugin_depends_on_the_distribution():
    extras = tomllib.loads((ROOT / "examples/zoo-extras/pyproject.toml").read_text())["project"]
    assert extras["dependencies"] == [f"{zoo.DISTRIBUTION}[train]>=0.1,<0.2"]


def test_builtins_are_recognised_and_listed_under_the_distribution():
    rows = json.loads(run_zoo("plugins", "--all", "--json").stdout)
    builtins = [r for r in rows if r["name"].startswith("builtin-")]
    assert builtins and all(r["builtin"] and r["distribution"] == zoo.DISTRIBUTION for r in builtins)


def test_a_command_names_its_own_extra_when_that_extra_brings_the_missing_module():
    """zoo export without torch said 'rnn-zoo[train]', which brings torch but not onnx: a second failure."""
    from zoo.extras import missing_message

    def missing(module: str, command: str | None) -> str | None:
        return missing_message(ModuleNotFoundError(f"No module named '{module}'", name=module), command)

    assert missing("torch", "export") == "this needs torch, which is not installed: pip install 'rnn-zoo[export]'"
    assert missing("torch", "pack").endswith("'rnn-zoo[export]'")
    assert missing("torch", "train").endswith("'rnn-zoo[train]'") and missing("torch", None).endswith("'rnn-zoo[train]'")
    assert missing("pandas", "export").endswith("'rnn-zoo[train]'") and missing("requests", "export") is None
