"""Make throw-away plugin distributions that Python's entry-point machinery really finds.

``make_distribution`` writes modules plus a ``NAME-VERSION.dist-info`` folder (METADATA and
entry_points.txt) into a folder; putting that folder on ``PYTHONPATH`` installs the plugin as far
as ``importlib.metadata.entry_points(group="zoo")`` is concerned, exactly as pip would.

The suite runs wherever zoo is installed, next to whatever zoo plugins are installed there
(examples/zoo-extras in CI, a user's own). Those would clash with the tests' plugins, add files
to run directories, print into JSON: so every zoo a test starts (``plugin_env``), and the test
process itself (``conftest.py``), disables them, except those a test asks for by putting their
folder on the path or naming them in ``ZOO_PLUGINS``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from importlib.metadata import distributions
from pathlib import Path
from typing import Any


def make_distribution(
    site: Path, name: str, version: str, modules: dict[str, str], entry_points: dict[str, str]
) -> Path:
    """Write ``modules`` ({module name: source}) and a dist-info declaring ``entry_points``."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[zoo]\n{lines}", encoding="utf-8")
    return site


def installed_plugins(paths: list[str] | None = None) -> set[str]:
    """Names of the zoo plugins installed on ``paths`` (default: ``sys.path``), zoo's own excepted."""
    from zoo.plugins import GROUP, is_core_distribution

    return {
        entry.name
        for dist in distributions(**({"path": paths} if paths is not None else {}))
        if not is_core_distribution(dist.metadata["Name"])
        for entry in dist.entry_points.select(group=GROUP)
    }


#: The plugins installed where the suite runs, found before any test adds its own.
FOREIGN_PLUGINS: frozenset[str] = frozenset(installed_plugins())


def plugin_env(site: Path | None = None, env: dict[str, str] | None = None,
               asking_for: Iterable[str] = ()) -> dict[str, str]:
    """The environment of a zoo process started by a test: this process's, without its ``ZOO_*``
    settings, plus ``env``, with ``site`` first on ``PYTHONPATH`` and the installed plugins
    disabled, except those the test asks for (in ``site``, on ``env``'s PYTHONPATH, in its
    ZOO_PLUGINS, or named in ``asking_for``: plugins the process itself will install)."""
    env = env or {}
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    full_env.update(env)
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), full_env.get("PYTHONPATH")]))
    asked = [str(site)] if site is not None else []
    asked += [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path]
    wanted = installed_plugins(asked) | set(env.get("ZOO_PLUGINS", "").split(",")) | set(asking_for)
    disabled = (FOREIGN_PLUGINS - wanted) | set(filter(None, env.get("ZOO_DISABLE_PLUGINS", "").split(",")))
    full_env["ZOO_DISABLE_PLUGINS"] = ",".join(sorted(disabled))
    return full_env


def run_zoo(*args: str, site: Path | None = None, env: dict[str, str] | None = None,
            stdin: str | bytes | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``zoo`` CLI as a user does, in a fresh interpreter, optionally with ``site`` added."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args], input=data, capture_output=True, env=plugin_env(site, env),
        cwd=cwd, timeout=timeout,
    )


#: Runs a command, then writes its peak resident memory last on stderr. The measure is taken in
#: a small process of its own: a child forked from a large test process counts that process's
#: pages in its peak before it even starts the command.
_MEASURE = """\
import resource, subprocess, sys
status = subprocess.call(sys.argv[1:])
sys.stderr.write(f"\\npeak-rss-kb {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
sys.exit(status)
"""


def start_zoo_measured(*args: str, env: dict[str, str] | None = None, stdin: Any = subprocess.PIPE) -> subprocess.Popen:
    """Start ``zoo ARGS`` as :func:`run_zoo` does, under a process that measures its peak memory
    (read it with :func:`peak_mb`); stdout and stderr are pipes."""
    return subprocess.Popen([sys.executable, "-c", _MEASURE, sys.executable, "-m", "zoo", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=plugin_env(env=env))


def peak_mb(stderr: bytes) -> tuple[str, float]:
    """A measured run's own stderr, and its peak resident memory in MB."""
    text, _, peak = stderr.decode().rpartition("\npeak-rss-kb ")
    return text, int(peak) / 1024


CNN_PLUGIN = '''
from pydantic import BaseModel, ConfigDict, Field
from zoo import hookimpl


class BagConfig(BaseModel):
    """Mean of embeddings (a test encoder)."""

    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0)


def build_bag(config, input_size):
    import torch

    class Bag(torch.nn.Module):
        output_size = input_size

        def forward(self, x, lengths):
            mask = (torch.arange(x.size(1))[None, :] < lengths[:, None]).unsqueeze(2)
            return config.scale * (x * mask).sum(1) / lengths[:, None]

    return Bag()


@hookimpl
def register_components(registry):
    registry.register("encoder", "bag", config=BagConfig, factory=build_bag)
'''


LINES_PLUGIN = '''
"""A test dataset: SOURCE/{train,valid,test}.txt, one review per line as 'neg<TAB>text' or 'pos<TAB>text'."""
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from zoo import hookimpl
from zoo.data.interface import SPLITS, RawSplit
from zoo.errors import DataError


class LinesConfig(BaseModel):
    """Labelled lines, one file per split."""

    model_config = ConfigDict(extra="forbid")


class Lines:
    labels = ["neg", "pos"]

    def __init__(self, config):
        self.config = config

    def fingerprint(self, source):
        stats = [(Path(source) / f"{split}.txt").stat() for split in SPLITS]
        return ";".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)

    def load(self, source, cache_dir, *, seed=1):
        splits = {}
        for split in SPLITS:
            texts, labels = [], []
            for line in (Path(source) / f"{split}.txt").read_text(encoding="utf-8").splitlines():
                label, _, text = line.partition("\\t")
                if label not in self.labels:
                    raise DataError(f"{split}.txt: unknown label {label!r}")
                texts.append(text)
                labels.append(self.labels.index(label))
            splits[split] = RawSplit(texts, labels)
        return splits


@hookimpl
def register_components(registry):
    registry.register("dataset", "lines", config=LinesConfig, factory=Lines)
'''


def write_lines_data(folder: Path, per_label: int = 12) -> Path:
    """Made-up data for :data:`LINES_PLUGIN`: ``per_label`` lines per label in each split file."""
    from zoo.testing import made_up_review

    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        lines = [f"{label}\t{made_up_review(rng, label == 'pos')}" for label in ("neg", "pos") for _ in range(per_label)]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
