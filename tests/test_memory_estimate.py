"""The memory check before the first step: a batch too large is refused with a message, never
allocated; the shipped recipes are not refused; measuring leaves the run exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from plugin_packages import run_zoo
from zoo.memory_estimate import (
    InsufficientMemory,
    available_memory,
    bytes_per_token,
    check_training_memory,
    largest_batch_tokens,
)
from zoo.model import build_model
from zoo.spec import list_recipes, load_spec
from zoo.testing import write_imdb_folder

#: The longest training review of the real IMDB archive, in words-tokenizer tokens.
IMDB_LONGEST = 2505


def test_the_largest_batch_by_hand():
    lengths = np.array([10, 300, 40, 7])
    assert largest_batch_tokens(lengths, 32, None) == 4 * 300  # only 4 reviews exist
    assert largest_batch_tokens(lengths, 2, None) == 2 * 300  # the longest with one other, padded to it
    assert largest_batch_tokens(lengths, 2, 450) == 450
    assert largest_batch_tokens(lengths, 3, None, world_size=2) == 2 * 300  # this process's shard
    # 2 processes, budget 200: batches of 20 ten-token reviews, shards of 10 (within 200 / 2 + 10)
    assert largest_batch_tokens(np.full(100, 10), 64, 200, world_size=2) == 200 // 2 + 10


def test_measuring_leaves_random_state_weights_and_gradients_as_they_were():
    spec = load_spec("imdb-best")  # dropout: the forward pass draws random numbers
    model = build_model(spec.model, vocab_size=500)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    assert bytes_per_token(model, torch.device("cpu")) > 0
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_a_huge_batch_is_refused_without_allocating_it():
    spec = load_spec("imdb-lstm", ["train.batch_size=1000000"])
    model = build_model(spec.model, vocab_size=500)
    lengths = np.full(1_000_000, IMDB_LONGEST)  # 2.5e9 padded tokens: terabytes
    with pytest.raises(InsufficientMemory) as caught:
        check_training_memory(model, spec, lengths, torch.device("cpu"))
    message = str(caught.value)
    assert "train.batch_size 1,000,000 with reviews of up to 2,505 tokens (data.max_length is not set)" in message
    assert "2,505,000,000 padded tokens" in message
    assert "Lower train.batch_size, set data.max_length" in message and "GiB is available" in message


def test_the_refusal_names_its_binary_units(monkeypatch):
    """The figures were bytes / 2**30 labelled GB: 7% off what the label says."""
    import re

    import zoo.memory_estimate as memory_estimate

    monkeypatch.setattr(memory_estimate, "available_memory", lambda device: (10 * 2**30, "a test"))
    monkeypatch.setattr(memory_estimate, "bytes_per_token", lambda model, device, autocast=None: 1000.0)
    spec = load_spec("imdb-lstm", ["train.batch_size=100000"])
    with pytest.raises(InsufficientMemory) as caught:
        check_training_memory(build_model(spec.model, vocab_size=50), spec, np.full(100_000, 1000), torch.device("cpu"))
    message = str(caught.value)
    needed = re.search(r"about ([\d,.]+) GiB, but 10.0 GiB is available", message)
    assert needed, message
    assert float(needed.group(1).replace(",", "")) == pytest.approx(100_000 * 1000 * 1000.0 / 2**30, abs=0.1)


def test_the_check_can_be_skipped(monkeypatch):
    spec = load_spec("imdb-lstm", ["train.batch_size=1000000"])
    monkeypatch.setenv("ZOO_MEMORY_CHECK", "0")
    estimate = check_training_memory(build_model(spec.model, vocab_size=50), spec, np.full(1_000_000, 2505),
                                     torch.device("cpu"))
    assert estimate.available is None and estimate.available_from == "not checked (ZOO_MEMORY_CHECK=0)"


@pytest.mark.parametrize("name", sorted(list_recipes()))
def test_no_shipped_recipe_needs_more_than_a_small_machine_has(name):
    """By the estimate itself (not this machine's memory): under 2 GB for the largest real batch."""
    spec = load_spec(name)
    model = build_model(spec.model, vocab_size=68_291)
    lengths = np.minimum(np.full(spec.train.batch_size, IMDB_LONGEST), spec.data.max_length or IMDB_LONGEST)
    tokens = largest_batch_tokens(lengths, spec.train.batch_size, spec.train.max_tokens)
    needed = tokens * bytes_per_token(model, torch.device("cpu"))
    assert spec.train.max_tokens is None  # recipes compute what they recorded
    assert needed < 2 * 2**30
    assert available_memory(torch.device("cpu"))[0] is None or check_training_memory(
        model, spec, lengths, torch.device("cpu")).fits


def test_the_cli_refuses_a_batch_padded_to_one_enormous_review(tmp_path):
    source = write_imdb_folder(tmp_path / "data", per_label=10)
    (source / "train" / "pos" / "99_9.txt").write_text("a " * 1_000_000)  # 40 reviews padded to 1M tokens
    result = run_zoo("train", "imdb-lstm", "--set", f"data.source={source}", "--set", "data.dataset.valid_size=4",
                     "--set", "data.dataset.max_review_bytes=3000000", "--set", "model.embedding.dim=4096",
                     "--set", "train.batch_size=64", "--out", str(tmp_path / "run"),
                     env={"ZOO_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2, result.stderr.decode()
    stderr = result.stderr.decode()
    assert stderr.startswith("error: the largest training batch would not fit in memory: train.batch_size 64 ")
    assert "reviews of up to 1,000,000 tokens" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_token_budget_below_the_longest_review_is_refused_before_training(tmp_path):
    source = write_imdb_folder(tmp_path / "data", per_label=10)
    result = run_zoo("train", "imdb-lstm", "--set", f"data.source={source}", "--set", "data.dataset.valid_size=4",
                     "--set", "train.max_tokens=5", "--out", str(tmp_path / "run"),
                     env={"ZOO_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert "error: train.max_tokens is 5, but the longest training review has" in result.stderr.decode()


def test_a_token_budget_trains_reproducibly_and_changes_only_long_batches(tmp_path):
    from zoo.testing import smoke_train

    def run(name: str, *overrides: str) -> list:
        summary = smoke_train("imdb-lstm", tmp_path / name, ["model.embedding.dim=8", "model.encoder.hidden_size=8",
                                                             *overrides], epochs=1, per_label=24)
        lines = (Path(summary["run_dir"]) / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if "second" not in k} for line in lines]

    budget, plain = run("a", "train.max_tokens=120"), run("b")
    assert budget == run("c", "train.max_tokens=120")
    assert budget != plain  # 16 reviews of up to ~28 tokens exceed 120: those batches are split
    assert run("d", "train.max_tokens=100000") == plain  # a budget no batch reaches changes nothing
