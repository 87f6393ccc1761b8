"""``GET /``: one self-contained page for people (no external assets, no build step)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def page_html() -> str:
    """The page (``page.html``, package data): a form that calls ``predict`` and shows ``info``."""
    return files("zoo.serve").joinpath("page.html").read_text(encoding="utf-8")
