"""Generated bad specs: every mutation of a valid spec is either valid or one clear SpecError."""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.errors import SpecError
from zoo.rundir import dump_spec
from zoo.spec import load_spec, read_spec_file

BASE = dump_spec(load_spec("imdb-lstm"))


def paths(node, prefix=()):
    """Every dotted path of the spec's data, sections included."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


ALL_PATHS = [p for p in paths(BASE) if p]

junk = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["lsmt", "gru", "cnn", "", "-1", "1e309", "imdb", "words"]),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def mutated_specs(draw):
    spec = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = spec
        try:
            for key in path[:-1]:
                parent = parent[key]
            kind = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
            if kind == "replace":
                parent[path[-1]] = draw(junk)
            elif kind == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif kind == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = draw(junk)
            elif kind == "nest":
                parent[path[-1]] = {"nested": parent[path[-1]]}
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_mutated_specs_are_valid_or_one_clear_error(spec):
    try:
        load_spec(spec)
    except SpecError as exc:
        assert exc.problems
        for path, message in exc.problems:
            assert isinstance(path, str) and message.strip()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_binary_garbage_files_are_refused_clearly(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("garbage") / "spec.yaml"
    path.write_bytes(content)
    try:
        read_spec_file(path)
    except SpecError as exc:
        assert exc.problems


def test_mutated_spec_files_through_the_cli_exit_2_without_traceback(tmp_path):
    """A handful of mutations as files, run as a user runs them."""
    cases = {
        "wrong_type.yaml": {**BASE, "train": {**BASE["train"], "epochs": "ten"}},
        "negative.yaml": {**BASE, "model": {**BASE["model"], "embedding": {"dim": -20}}},
        "huge.yaml": {**BASE, "train": {**BASE["train"], "batch_size": 10**30}},
        "unknown_key.yaml": {**BASE, "trian": {}},
        "wrong_nesting.yaml": {**BASE, "model": {"model": BASE["model"]}},
        "unknown_component.yaml": {**BASE, "tokenizer": {"type": "sentencepiece"}},
    }
    for name, data in cases.items():
        (tmp_path / name).write_text(yaml.safe_dump(data))
    (tmp_path / "python_tag.yaml").write_text(
        "model: !!python/object/apply:os.system ['touch %s']\n" % (tmp_path / "pwned")
    )
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\x01\xfe\xff" * 10)
    for path in sorted(tmp_path.glob("*.yaml")):
        result = subprocess.run([sys.executable, "-m", "zoo", "validate", str(path)], capture_output=True)
        assert result.returncode == 2, path.name
        assert b"Traceback" not in result.stderr and b"error:" in result.stderr, path.name
    assert not (tmp_path / "pwned").exists()
