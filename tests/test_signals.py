"""SIGTERM as an exception (zoo.signals): raised at once, or at the end of a held section."""

from __future__ import annotations

import os
import signal

import pytest

from zoo.signals import Terminated, held, on_sigterm


@pytest.fixture
def handled():
    previous = signal.signal(signal.SIGTERM, on_sigterm(os.getpid()))
    yield
    signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_is_raised_where_the_command_is(handled):
    with pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs at the next instruction at the latest
            pass


def test_a_sigterm_inside_a_held_section_is_raised_when_the_section_ends(handled):
    """Inside a fork (Python's at-fork hooks swallow exceptions) the signal would be lost;
    held back, it ends the command right after."""
    finished = []
    with pytest.raises(Terminated):
        with held():
            with held():  # nested: raised once, at the outermost end
                os.kill(os.getpid(), signal.SIGTERM)
                finished.append("inner")
            finished.append("outer")
    assert finished == ["inner", "outer"]
    with held():  # and only once
        pass
