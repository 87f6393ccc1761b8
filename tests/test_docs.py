"""The plugin author guide covers the whole hook contract, and the README links to it."""

from __future__ import annotations

import inspect
from pathlib import Path

from zoo import hookspecs

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"


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


def test_the_readme_links_to_the_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    assert "(docs/plugins.md)" in section
