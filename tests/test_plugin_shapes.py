"""A plugin tokenizer, encoder or head that breaks its contract is one message naming it and its plugin."""

from __future__ import annotations

import random
import textwrap

import pytest

from plugin_packages import run_zoo
from zoo.testing import made_up_review

SHAPES_PLUGIN = '''
from pydantic import BaseModel, ConfigDict
from zoo import hookimpl


class Mode(BaseModel):
    """How to break the contract (a test component)."""

    model_config = ConfigDict(extra="forbid")
    mode: str = "sequence"


def build_encoder(config, input_size):
    import torch

    class Broken(torch.nn.Module):
        output_size = 4

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(input_size, 4)

        def forward(self, x, lengths):
            y = self.linear(x)
            if config.mode == "sequence":
                return y                  # (B, T, 4): forgot to pool
            if config.mode == "tuple":
                return y[:, 0], None
            if config.mode == "raises":
                raise IndexError("off by one")
            return y[:, 0]

    return Broken()


def build_head(config, input_size, num_outputs):
    import torch

    return torch.nn.Linear(input_size, num_outputs + 1)


def build_tokenizer(config):
    if config.mode == "string":
        return str.strip                 # the text itself: its characters would become tokens
    if config.mode == "empty":
        return lambda text: ["", *text.split()]
    return str.split


@hookimpl
def register_components(registry):
    registry.register("tokenizer", "broken", config=Mode, factory=build_tokenizer)
    registry.register("encoder", "broken", config=Mode, factory=build_encoder)
    registry.register("head", "wide", config=Mode, factory=build_head)
'''


@pytest.fixture
def project(tmp_path):
    rng = random.Random(0)
    rows = [f'"{made_up_review(rng, i % 2 == 0)}",{"pos" if i % 2 == 0 else "neg"}' for i in range(60)]
    (tmp_path / "train.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "tiny.yaml").write_text(textwrap.dedent("""\
        name: tiny
        data: {dataset: {type: table, train: train.csv, text: text, label: label}}
        model: {embedding: {dim: 4}, encoder: {type: lstm, hidden_size: 4}, head: {type: mlp, hidden_sizes: [4]}}
        train: {epochs: 1, batch_size: 16}
        """), encoding="utf-8")
    (tmp_path / "shapes_plugin.py").write_text(SHAPES_PLUGIN, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("sets, message", [
    (["model.encoder=broken"], "encoder 'broken' from plugin shapes_plugin (not installed) returned (2, 3, 4) "
                               "for a batch of 2 texts, expected a tensor of shape (2, 4)"),
    (["model.encoder={type: broken, mode: tuple}"], "encoder 'broken' from plugin shapes_plugin (not installed) "
                                                     "returned tuple"),
    (["model.encoder={type: broken, mode: raises}"], "encoder 'broken' from plugin shapes_plugin (not installed) "
                                                      "failed on a batch of 2 texts: IndexError: off by one"),
    (["tokenizer={type: broken, mode: string}"], "tokenizer 'broken' from plugin shapes_plugin (not installed) "
                                                  "turned 'A fine film, really.' into 'A fine film, really.', "
                                                  "not a list of non-empty strings"),
    (["tokenizer={type: broken, mode: empty}"], "tokenizer 'broken' from plugin shapes_plugin (not installed) "
                                                 "turned 'A fine film, really.' into ['', 'A', "),
    (["model.head=wide"], "head 'wide' from plugin shapes_plugin (not installed) returned (2, 2) for a batch of "
                          "2 texts, expected a tensor of shape (2, 1)"),
])
def test_a_component_breaking_the_shape_contract_is_named(project, sets, message):
    overrides = [arg for item in sets for arg in ("--set", item)]
    result = run_zoo("-p", "shapes_plugin", "train", "tiny.yaml", *overrides, "--out", "run", cwd=project,
                     env={"PYTHONPATH": str(project), "ZOO_CACHE_DIR": str(project / "cache")})
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert message in stderr
    assert not (project / "run").exists()


def test_a_component_keeping_the_contract_trains(project):
    result = run_zoo("-p", "shapes_plugin", "train", "tiny.yaml", "--set", "model.encoder={type: broken, mode: ok}",
                     "--out", "run", cwd=project,
                     env={"PYTHONPATH": str(project), "ZOO_CACHE_DIR": str(project / "cache")})
    assert result.returncode == 0, result.stderr.decode()


BUGGY_DATASET = '''
from pydantic import BaseModel

from zoo import hookimpl
from zoo.data.interface import RawSplit


class BuggyConfig(BaseModel):
    """A dataset with a bug (a test component)."""


class Buggy:
    labels = ["neg", "pos"]

    def __init__(self, config):
        pass

    def fingerprint(self, source):
        return "buggy"

    def load(self, source, cache_dir, *, seed=1):
        return {"train": RawSplit(["a text"] * 4, [0, 1, 0])}   # 4 texts, 3 labels


@hookimpl
def register_components(registry):
    registry.register("dataset", "buggy", config=BuggyConfig, factory=Buggy)
'''


def test_a_dataset_whose_load_fails_is_one_message_naming_it_and_its_plugin(project):
    (project / "buggy_plugin.py").write_text(BUGGY_DATASET, encoding="utf-8")
    result = run_zoo("-p", "buggy_plugin", "train", "tiny.yaml", "--set", "data.dataset=buggy", "--out", "run",
                     cwd=project, env={"PYTHONPATH": str(project), "ZOO_CACHE_DIR": str(project / "cache")})
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in stderr, stderr
    assert "dataset 'buggy' from plugin buggy_plugin failed in load: ValueError: 4 texts but 3 labels" in stderr
