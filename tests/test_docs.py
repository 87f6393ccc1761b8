"""The documents say what is true: every code block of them runs as written, on tiny made-up data.

Each fenced block of the documents below is handled by the first rule that applies:

1. Preceded by ``<!-- not run: REASON -->``: not run, for the reason it gives (``torchrun`` on
   several machines, installing zoo itself...).
2. ``text`` or ``csv``: a listing or a sample of data. In a layout (first line ``NAME/``) the
   files marked ``# empty`` are created empty.
3. First line ``# PATH``: a file, written to PATH in the work folder, or appended to it when the
   line reads ``# PATH, continued``.
4. ``yaml`` without a path: a spec that ``zoo validate`` accepts; one named like a shipped
   recipe must hold what that recipe's file holds.
5. ``python`` without a path: run as a script, in a fresh interpreter.
6. ``bash``: run by bash, stopping at the first command that fails; no command may print a
   traceback or a zoo warning.

Each test runs the commands (rules 4-6) of one section of a document, in a fresh work folder
holding every file the document wrote so far (rules 2-3), in document order, with:

- the test's ``python`` and ``zoo`` first on ``PATH``;
- ``pip install [-e] PATH`` installing PATH offline into a private folder on ``PYTHONPATH``
  (``--no-deps --no-build-isolation --no-index --target``), never into the test's environment;
- ``ZOO_IMDB_SOURCE`` naming made-up IMDB-layout data (invented words, no real reviews) with
  the 5,000 validation reviews the shipped recipes hold out plus 100 to train on, and 50 test
  reviews; a private ``ZOO_CACHE_DIR``;
- the users' own files the documents read: ``reviews.tsv``, 300 made-up ``label<TAB>text``
  lines (docs/plugins.md's dataset); ``tickets/{train,valid,test}.csv``, ``new.csv`` and ``march.csv``,
  made-up support tickets (``id,body,queue``: billing, tech or sales) for the README's "Your own
  data"; a copy of the repository's ``examples/`` folder.
"""

from __future__ import annotations

import csv
import inspect
import io
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from plugin_packages import plugin_env
from zoo import hookspecs
from zoo.testing import made_up_review

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
DOCUMENTS = ["README.md", "docs/plugins.md", "examples/zoo-extras/README.md"]
COMMANDS = ("yaml", "python", "bash")
SKIP = re.compile(r"^<!-- not run: (?P<reason>.+?) -->$")
PIP_INSTALL = re.compile(r"^pip install (?:-e )?(?P<path>\S+)", re.MULTILINE)

#: What rule 6 puts in front of every bash block.
BASH_PRELUDE = """\
set -euo pipefail
pip() {  # the documents' "pip install [-e] PATH", offline, into the private folder
  [ "$1" = install ] || { echo "docs test: only 'pip install' is supported" >&2; return 2; }
  python -m pip install --quiet --no-deps --no-build-isolation --no-index --disable-pip-version-check \\
    --upgrade --target "$DOCS_SITE" "${@: -1}"
}
"""


@dataclass(frozen=True)
class Block:
    """One fenced code block: its document, section, first line number, language and text."""

    document: str
    section: str
    line: int
    language: str
    text: str
    skip: str | None

    @property
    def path(self) -> tuple[str, bool] | None:
        """``(PATH, continued)`` for a file block (rule 3), else ``None``."""
        first = self.text.splitlines()[0] if self.text.strip() else ""
        match = re.fullmatch(r"# (?P<path>[\w./-]+\.\w+)(?P<continued>, continued)?", first.strip())
        return (match["path"], bool(match["continued"])) if match and self.language != "bash" else None

    @property
    def kind(self) -> str:
        if self.skip:
            return "not run"
        if self.language in ("text", "csv"):
            return "listing"
        if self.path:
            return "file"
        if self.language in COMMANDS:
            return self.language
        return "unknown"

    def __str__(self) -> str:
        return f"{self.document}:{self.line} ({self.section})"


def read_blocks(document: str) -> list[Block]:
    """Every fenced block of ``document``, in order."""
    lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
    blocks, section, previous = [], Path(document).name, ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#") and not line.startswith("#!"):
            section = line.lstrip("#").strip()
        if line.startswith("```"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            skip = SKIP.match(previous.strip())
            blocks.append(Block(document, section, index + 1, line[3:].strip(), "\n".join(lines[index + 1 : end]) + "\n",
                                skip["reason"] if skip else None))
            index, previous = end, lines[end]
        elif line.strip():
            previous = line
        index += 1
    return blocks


ALL_BLOCKS = [block for document in DOCUMENTS for block in read_blocks(document)]
SECTIONS = list(dict.fromkeys((b.document, b.section) for b in ALL_BLOCKS if b.kind in COMMANDS))


def test_every_block_runs_or_says_why_not():
    unknown = [str(block) for block in ALL_BLOCKS if block.kind == "unknown"]
    assert not unknown, f"blocks no rule of tests/test_docs.py handles (mark them '<!-- not run: why -->'): {unknown}"
    for block in ALL_BLOCKS:
        if block.kind == "file" and block.path[1]:
            assert any(b.path == (block.path[0], False) for b in ALL_BLOCKS[: ALL_BLOCKS.index(block)]
                       if b.document == block.document), f"{block} continues a file the document has not written"
    # the flagship examples are among the blocks run
    files = {b.path[0] for b in ALL_BLOCKS if b.kind == "file"}
    assert {"zoo_bag.py", "zoo-bag/src/zoo_bag/plugin.py", "zoo-bag/src/zoo_bag/tsv.py", "zoo-bag/src/zoo_bag/log.py",
            "zoo-bag/tests/test_bag.py"} <= files
    assert len(SECTIONS) >= 8


# --- running a section ---------------------------------------------------------------------------


def _write_imdb_archive(path: Path, train_per_label: int, test_per_label: int) -> Path:
    """An ``aclImdb`` archive of made-up reviews (the layout and file names of the real one)."""
    rng = random.Random(0)
    with tarfile.open(path, "w:gz") as archive:
        for split, count in (("train", train_per_label), ("test", test_per_label)):
            for label in ("neg", "pos"):
                for i in range(count):
                    data = made_up_review(rng, label == "pos").encode()
                    member = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt")
                    member.size = len(data)
                    archive.addfile(member, io.BytesIO(data))
    return path


#: Words that give a made-up ticket's queue away.
QUEUES = {"billing": ["refund", "charged", "invoice"], "tech": ["crash", "error", "settings"],
          "sales": ["quote", "seats", "pricing"]}


def _write_tickets(folder: Path) -> None:
    """``folder/tickets/{train,valid,test}.csv``, ``folder/new.csv`` and ``folder/march.csv``:
    made-up support tickets."""
    rng = random.Random(2)
    (folder / "tickets").mkdir()
    for name, count in (("tickets/train", 80), ("tickets/valid", 15), ("tickets/test", 15), ("new", 5),
                        ("march", 5)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "body", "queue"])
            for i, queue in enumerate(list(QUEUES) * count):
                words = rng.choices(["the", "my", "app", "please", "we", "a", "for", "this"], k=6)
                words.insert(rng.randrange(7), rng.choice(QUEUES[queue]))
                writer.writerow([i, " ".join(words), queue])


@pytest.fixture(scope="module")
def made_up(tmp_path_factory) -> dict[str, Path]:
    """The made-up data every section may use (its own files in ``files``), and a shared cache."""
    root = tmp_path_factory.mktemp("docs-data")
    files = root / "files"
    files.mkdir()
    rng = random.Random(1)
    (files / "reviews.tsv").write_text(
        "".join(f"{label}\t{made_up_review(rng, label == 'pos')}\n" for label in ["neg", "pos"] * 150), encoding="utf-8")
    _write_tickets(files)
    return {"imdb": _write_imdb_archive(root / "aclImdb_v1.tar.gz", 2550, 25), "files": files, "cache": root / "cache"}


def _write_files(blocks: list[Block], work: Path) -> None:
    """Rules 2 and 3: the files the blocks write, in order."""
    for block in blocks:
        if block.kind == "listing" and block.text.splitlines()[0].endswith("/"):
            folder = work / block.text.splitlines()[0].strip()
            for line in block.text.splitlines()[1:]:
                if line.split("#", 1)[-1].strip() == "empty":
                    (folder / line.split("#", 1)[0].strip()).parent.mkdir(parents=True, exist_ok=True)
                    (folder / line.split("#", 1)[0].strip()).touch()
        elif block.kind == "file":
            name, continued = block.path
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            body = block.text.split("\n", 1)[1] if continued else block.text
            with target.open("a" if continued else "w", encoding="utf-8") as handle:
                handle.write(body)


def _plugins_installed_by(block: Block, work: Path) -> set[str]:
    """The zoo entry points of the packages a bash block pip-installs (read from their pyproject)."""
    names = set()
    for match in PIP_INSTALL.finditer(block.text):
        project = tomllib.loads((work / match["path"] / "pyproject.toml").read_text(encoding="utf-8"))
        names |= set(project["project"].get("entry-points", {}).get("zoo", {}))
    return names


def _run(block: Block, work: Path, env: dict[str, str], index: int) -> subprocess.CompletedProcess:
    if block.kind == "bash":
        command = ["bash", "-c", BASH_PRELUDE + block.text]
    elif block.kind == "python":
        script = work / f".docs-block-{index}.py"
        script.write_text(block.text, encoding="utf-8")
        command = [sys.executable, str(script)]
    else:
        spec = work / f".docs-block-{index}.yaml"
        spec.write_text(block.text, encoding="utf-8")
        command = [sys.executable, "-m", "zoo", "validate", str(spec)]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, timeout=300)


@pytest.mark.parametrize(("document", "section"), SECTIONS, ids=[f"{d}: {s}" for d, s in SECTIONS])
def test_the_section_runs_as_written(document, section, made_up, tmp_path):
    blocks = [b for b in ALL_BLOCKS if b.document == document]
    last = max(i for i, b in enumerate(blocks) if b.section == section)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*"))
    shutil.copytree(made_up["files"], work, dirs_exist_ok=True)
    _write_files(blocks[: last + 1], work)
    site = tmp_path / "site"
    site.mkdir()
    commands = [b for b in blocks if b.section == section and b.kind in COMMANDS]
    installed = set().union(*(_plugins_installed_by(b, work) for b in commands if b.kind == "bash"))
    env = plugin_env(env={
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(site), "DOCS_SITE": str(site),
        "ZOO_IMDB_SOURCE": str(made_up["imdb"]), "ZOO_CACHE_DIR": str(made_up["cache"]),
    }, asking_for=installed)
    for index, block in enumerate(commands):
        result = _run(block, work, env, index)
        output = result.stdout.decode() + result.stderr.decode()
        assert result.returncode == 0, f"{block} failed:\n{block.text}\n{output[-4000:]}"
        assert "Traceback" not in output and "zoo: warning" not in output, f"{block}:\n{output[-4000:]}"
        if block.kind == "yaml":
            data = yaml.safe_load(block.text)
            recipe = ROOT / "zoo" / "recipes" / f"{data.get('name')}.yaml"
            if recipe.exists():
                assert data == yaml.safe_load(recipe.read_text(encoding="utf-8")), f"{block} is not {recipe.name}"


# --- the hook contract ---------------------------------------------------------------------------


def hook_names() -> list[str]:
    """Every function of zoo/hookspecs.py marked with ``@hookspec``."""
    return [
        name for name, value in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(value, "zoo_spec")
    ]


def test_every_hook_is_documented_with_its_signature():
    names = hook_names()
    assert {"register_components", "on_run_start", "on_epoch_end", "on_checkpoint_saved", "on_run_end"} <= set(names)
    guide = GUIDE.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in guide.splitlines() if line.startswith("| `")}
    for name in names:
        assert f"`{name}`" in rows, f"docs/plugins.md has no row for the hook {name}"
        assert f"{name}(" in rows[f"`{name}`"], f"docs/plugins.md does not give the signature of {name}"
        for parameter in inspect.signature(getattr(hookspecs, name)).parameters:
            assert parameter in rows[f"`{name}`"], f"docs/plugins.md: {name} lacks its argument {parameter}"


def test_every_kind_is_documented_in_both_tables():
    for document in ("README.md", "docs/plugins.md"):
        rows = {line.split("|")[1].strip() for line in (ROOT / document).read_text(encoding="utf-8").splitlines()
                if line.startswith("| ")}
        assert set(hookspecs.KINDS) <= rows, f"{document}: the table of kinds lacks {set(hookspecs.KINDS) - rows}"


def test_the_readme_links_to_the_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    assert "(docs/plugins.md)" in section
