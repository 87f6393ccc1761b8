"""Specs from someone else: alias bombs, deep nesting, FIFOs and huge files are refused with one
message, in milliseconds, by every command that reads a spec (issue 20, items 3 and 7)."""

from __future__ import annotations

import json
import os
import time

import pytest

from zoo.cli import main
from zoo.errors import SpecError
from zoo.spec import load_spec

#: 425 bytes of YAML whose last list expands to 9**9 (387 million) strings.
BOMB = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{this}: &{this} [{', '.join(['*' + before] * 9)}]" for before, this in zip("abcdefgh", "bcdefghi")]
) + "\nname: bomb\n"


def zoo(capsys, *args: str) -> tuple[int, str]:
    """``zoo ARGS`` as the CLI runs it (in this process): exit status and stderr."""
    capsys.readouterr()
    status = main([str(arg) for arg in args])
    return status, capsys.readouterr().err


def refusal(path, *overrides: str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(str(path), list(overrides))
    return str(info.value)


def test_an_alias_bomb_is_refused_before_anything_walks_it(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert len(BOMB) < 500
    started = time.perf_counter()
    message = refusal(bomb, "train.epochs=2")
    assert time.perf_counter() - started < 1.0
    assert "bomb.yaml: holds more than 10,000 values; a spec is not (are YAML aliases expanding it?)" in message
    for args in (["validate", bomb, "--set", "train.epochs=2"], ["data", "--spec", bomb],
                 ["train", bomb, "--out", tmp_path / "run"]):
        status, stderr = zoo(capsys, *args)
        assert status == 2 and "holds more than 10,000 values" in stderr, args
    assert not (tmp_path / "run").exists()


def test_a_few_aliases_are_still_fine_and_an_alias_to_itself_is_not(tmp_path):
    shared = tmp_path / "shared.yaml"
    shared.write_text("model:\n  head: {type: mlp, hidden_sizes: &sizes [8, 8]}\n"
                      "  encoder: {type: lstm, hidden_size: 8}\ntrain: {optimizer: {betas: &b [0.9, 0.99]}}\n")
    assert load_spec(str(shared)).model.head.hidden_sizes == [8, 8]
    loop = tmp_path / "loop.yaml"
    loop.write_text("model:\n  head: &loop {type: mlp, hidden_sizes: [*loop]}\n")
    assert "holds an alias to itself, which expands without end" in refusal(loop)


@pytest.mark.parametrize("suffix, text", [
    (".json", "[" * 100_000 + "]" * 100_000),
    (".json", '{"a": ' * 50 + "1" + "}" * 50),
    (".yaml", "a: " + "[" * 5_000 + "]" * 5_000),
    (".yaml", "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + "  " * 40 + "x: 1\n"),
    (".toml", "a = " + "[" * 5_000 + "]" * 5_000),
])
def test_deep_nesting_is_refused_in_every_format(tmp_path, capsys, suffix, text):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    message = refusal(path)
    assert f"deep{suffix}: nest" in message and "more than 32 levels deep" in message
    status, stderr = zoo(capsys, "validate", path)
    assert status == 2 and "more than 32 levels deep" in stderr


def test_the_bounds_are_those_documented():
    from zoo.spec import check_spec_size

    check_spec_size({"a": [[[[1]]]] * 100}, "fine")
    deep: list = []
    node = deep
    for _ in range(32):
        node.append([])
        node = node[0]
    check_spec_size({"x": deep[0]}, "32 levels")  # the list holding 31 more, under a mapping
    with pytest.raises(SpecError, match="more than 32 levels deep"):
        check_spec_size({"x": deep}, "33 levels")
    with pytest.raises(SpecError, match="more than 10,000 values"):
        check_spec_size({"x": list(range(10_000))}, "many")


def test_a_spec_that_is_a_fifo_or_too_large_is_refused_without_reading_it(tmp_path, capsys):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    status, stderr = zoo(capsys, "validate", fifo)
    assert status == 2 and "is not a file" in stderr
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"description": "x" * (1 << 20)}))
    assert "more than the 1,048,576 such a file may have" in refusal(huge)
