"""Errors a user can cause, as opposed to bugs.

The CLI prints a :class:`ZooError` as one message and exits non-zero; anything else is a bug and
keeps its traceback. Raise a ``ZooError`` subclass wherever the cause is the user's input (a spec,
a path, a plugin they installed) and the message can say what would be valid.
"""

from __future__ import annotations


class ZooError(Exception):
    """A problem the user can fix; the message says what and how."""

    exit_code = 2


class SpecError(ZooError):
    """A spec that does not validate; ``problems`` holds one ``(dotted.path, message)`` per fault."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"{path}: {msg}" if path else msg for path, msg in problems]
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"invalid spec{where} ({len(problems)} {noun}):\n  " + "\n  ".join(lines))


class UnknownComponentError(ZooError):
    """A component name that no installed plugin registered."""


class PluginError(ZooError):
    """A plugin that failed to load or registered something invalid."""


class DataError(ZooError):
    """Data that is missing, unreadable, corrupt or unsafe."""


class RunError(ZooError):
    """A run directory that cannot be used as asked (missing, finished, incompatible)."""
